// dkim_keys: which DKIM keys sign mail from which domain, as the
// administrator lists them in control/dkimkeys, one "domain selector"
// a line:
//
//   example.com   rsa2026       mail From: anyone@example.com
//   example.com   ed2026        a second signature (e.g. Ed25519 beside RSA)
//   .example.com  rsa2026       From: any subdomain of example.com, d=example.com
//
// A key lives at conf-home/control/dkim/DOMAIN/SELECTOR.key, readable by
// the DKIM user alone (dkimkey(8) makes it). The file is root's, so it is
// trusted; a malformed line is still reported, never guessed at.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::dkim_keys {

struct Key {
  std::string domain;    // d=, lower case
  std::string selector;  // s=, lower case
};

// A domain name as DKIM's d= takes it: dot-separated labels of letters,
// digits and '-', no empty label, at most 253 bytes. A selector is the
// same (RFC 6376 3.1 allows dots in it).
bool valid_domain(std::string_view name);

// The keys that sign mail whose From: is in from_domain, in the order of
// lines (control/dkimkeys' meaningful lines). nullopt, with why naming the
// line, when a line is not "domain selector" with valid names.
std::optional<std::vector<Key>> for_domain(const std::vector<std::string>& lines, std::string_view from_domain,
                                           std::string& why);

// conf-home/control/dkim/DOMAIN/SELECTOR.key
std::string key_path(const Key& key);

}  // namespace postern::dkim_keys
