// imap_url: IMAP URLs (RFC 5092) as CATENATE (RFC 4469) and URLAUTH (RFC
// 4467) name a message or a part of one: "imap://user@host/INBOX;
// UIDVALIDITY=7/;UID=20/;SECTION=1.2/;PARTIAL=0.100", or the same from
// the mailbox on ("/INBOX/;UID=20"). The text comes from the network:
// every field is checked, %XX escapes are undone (the mailbox stays in
// modified UTF-7, as on the wire), numbers are bounded; anything else is
// nullopt. Returns the parts; never throws.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::imap {

struct ImapUrl {
  std::string user;                 // before '@' in an absolute URL ("" if none)
  std::string host;                 // "" for a relative URL
  std::string mailbox;              // decoded
  std::uint32_t uidvalidity = 0;    // 0: not given
  std::uint32_t uid = 0;
  std::string section;              // decoded, upper case ("" : the whole message)
  bool partial = false;
  std::uint64_t partial_offset = 0, partial_length = 0;  // length 0: to the end
  std::string expire;               // ";EXPIRE=" as written, "" if none
  std::string access;               // ";URLAUTH=<access>" ("" if none)
  std::string mechanism, token;     // ":<mech>:<token>" after it, if any
  // The URL up to (without) ";URLAUTH=..." : what URLAUTH signs.
  std::string rump;
};

std::optional<ImapUrl> parse_imap_url(std::string_view url);

}  // namespace postern::imap
