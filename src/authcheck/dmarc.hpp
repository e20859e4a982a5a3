// dmarc: DMARC (RFC 7489) by libopendmarc: the author domain's policy
// record from DNS, the organisational domain from the public suffix list
// (Debian's publicsuffix package), and whether an SPF or DKIM pass is
// aligned with the author domain. The inputs are the results already
// found; nothing here reads the message.
#pragma once
#include <string>
#include <vector>

#include "dkim_verify.hpp"
#include "spf.hpp"

namespace postern::authcheck {

struct DmarcResult {
  std::string result = "none";  // none pass fail temperror permerror
  std::string domain;           // the author domain (header.from)
  char policy = 0;              // the policy for it when it fails: 'n'one, 'q'uarantine, 'r'eject
};

// The public suffix list libopendmarc reads.
constexpr const char* public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";

// author_domain: the From: domain ("" when the message has no single one:
// permerror, as RFC 7489 6.6.1 leaves it to the receiver). spf: the MAIL
// FROM check (or HELO's, when the sender is empty; helo says which).
DmarcResult check_dmarc(const std::string& ip, const std::string& author_domain, const SpfResult& spf, bool helo,
                        const std::vector<DkimResult>& dkim);

}  // namespace postern::authcheck
