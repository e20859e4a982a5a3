// compose: the changes inject makes to a message's header, qmail-inject's
// way: complete the addresses a user typed, collect the header recipients,
// drop Bcc:, and add the Date:, Message-ID: and From: a message must have.
// Works on parsed fields from an untrusted header; it never fails, and
// leaves every field it has no business with exactly as written.
#pragma once
#include <ctime>
#include <string>
#include <vector>

#include "address_completion.hpp"
#include "mail/header.hpp"
#include "identity.hpp"

namespace postern::inject {

// Appends the recipients in To:, Cc: and Bcc:, completed, in order,
// without the null address, to out. false (and out incomplete) when out
// would grow past max.
bool header_recipients(const std::vector<header::Field>& fields, const CompletionRules& rules,
                       std::size_t max, std::vector<std::string>& out);

// Completes the addresses in the fields that hold addresses (From:, To:,
// Cc:, Reply-To:, Sender:, their Resent- forms, ...).
void complete_address_fields(std::vector<header::Field>& fields, const CompletionRules& rules);

// Removes Bcc: and Resent-Bcc:, which must not reach the recipients.
void remove_bcc(std::vector<header::Field>& fields);

// Appends Message-ID:, Date: and From: when the header has none.
void add_missing_fields(std::vector<header::Field>& fields, const Identity& id,
                        const CompletionRules& rules, std::time_t now);

// The header as bytes, each field ending in "\n" (no blank line after).
std::string render(const std::vector<header::Field>& fields);

}  // namespace postern::inject
