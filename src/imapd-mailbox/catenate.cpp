// catenate: what an IMAP URL in APPEND's CATENATE (RFC 4469) stands for:
// a message of the user's own folders, or a section or partial range of
// it, as FETCH BODY[section]<partial> would send it. The URL comes from
// the network (parse_imap_url checks it); relative URLs ("/INBOX;
// UIDVALIDITY=7/;UID=20/;SECTION=1") name folders of this login, absolute
// ones only with a valid URLAUTH (urlauth.cpp). Returns the bytes (CRLF form) or nullopt, which APPEND answers
// NO [BADURL]. See imapd(8).
#include <sys/stat.h>

#include "imap/imap_message.hpp"
#include "imap/imap_url.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "session.hpp"

namespace imapd {

std::optional<std::string> Session::url_content(const std::string& text) {
  auto u = parse_imap_url(text);
  if (!u) return std::nullopt;
  if (!u->access.empty()) return urlauth_content(text);  // RFC 4469: a signed URL, checked as URLFETCH would
  if (!u->host.empty()) return std::nullopt;
  // RFC 5092: the mailbox in a URL is UTF-8; folders are stored in
  // modified UTF-7.
  auto stored = utf7_encode(u->mailbox);
  if (!stored) return std::nullopt;
  std::string n = canonical(*stored);
  if (!valid_name(n)) return std::nullopt;
  std::string dir = folder_dir(root_, n);
  struct stat st {};
  if (::stat((dir + "/cur").c_str(), &st) != 0) return std::nullopt;
  Folder f(dir);
  std::vector<Entry> entries;
  std::string err;
  if (!f.sync(entries, false, err)) {
    log::line("{}: {}", who_, err);
    return std::nullopt;
  }
  if (u->uidvalidity && u->uidvalidity != f.uidvalidity()) return std::nullopt;
  const Entry* e = nullptr;
  for (auto& x : entries)
    if (x.uid == u->uid) e = &x;
  if (!e) return std::nullopt;
  auto data = read_regular_file(dir + "/cur/" + e->name, limits_.max_literal);
  if (!data) return std::nullopt;
  Message msg(to_crlf(*data));
  std::string out;
  if (u->section.empty()) {
    out = msg.text();
  } else {
    std::string spec = u->section + "]";
    Parser p(spec);
    auto sec = parse_section(p);
    if (!sec || !p.at_end()) return std::nullopt;
    out = msg.section(*sec);
  }
  if (u->partial) {
    if (u->partial_offset >= out.size()) return std::string();
    out = out.substr(u->partial_offset, u->partial_length ? u->partial_length : std::string::npos);
  }
  return out;
}

}  // namespace imapd
