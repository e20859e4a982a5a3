// completion: the fields a new message must have that its writer may have
// left out (RFC 5322 3.6: Date:, and Message-ID:, which every message
// should carry), added the same way by inject and by smtpd's submission
// service (RFC 6409 8.2, 8.3). Works on parsed fields of an untrusted
// header; never fails, and touches no field that is there.
#pragma once
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "mail/header.hpp"

namespace postern::completion {

// A new message id: "<time.random@host>", unique without any state.
std::string message_id(std::string_view host, std::time_t now);

// The fields to append to fields: Message-ID: (naming host) and Date:
// (now, local time), each only when the header has none.
std::vector<header::Field> missing_date_and_id(const std::vector<header::Field>& fields, std::string_view host,
                                               std::time_t now);

}  // namespace postern::completion
