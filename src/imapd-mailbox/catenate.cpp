// catenate: what an IMAP URL in APPEND's CATENATE (RFC 4469) stands for:
// a message of the user's own folders, or a section or partial range of
// it, as FETCH BODY[section]<partial> would send it. The URL comes from
// the network (parse_imap_url checks it); relative URLs ("/INBOX;
// UIDVALIDITY=7/;UID=20/;SECTION=1") name folders of this login, absolute
// ones only with a valid URLAUTH (urlauth.cpp). Returns the bytes (CRLF
// form) or nullopt, which APPEND answers NO [BADURL]; url_target, shared
// with URLAUTH, returns the parsed message. See imapd(8).
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
  std::optional<UrlTarget> t;
  if (!u->access.empty()) t = urlauth_target(*u);  // RFC 4469: a signed URL, checked as URLFETCH would
  else if (u->host.empty()) t = url_target(*u);
  if (!t) return std::nullopt;
  std::string out = t->msg.section(t->sec);
  if (u->partial) {
    if (u->partial_offset >= out.size()) return std::string();
    out = out.substr(u->partial_offset, u->partial_length ? u->partial_length : std::string::npos);
  }
  return out;
}

std::optional<Session::UrlTarget> Session::url_target(const ImapUrl& u) {
  // RFC 5092: the mailbox in a URL is UTF-8; folders are stored in
  // modified UTF-7.
  auto stored = stored_name(root_, u.mailbox);
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
  if (u.uidvalidity && u.uidvalidity != f.uidvalidity()) return std::nullopt;
  const Entry* e = nullptr;
  for (auto& x : entries)
    if (x.uid == u.uid) e = &x;
  if (!e) return std::nullopt;
  Section sec;
  if (!u.section.empty()) {
    std::string spec = u.section + "]";
    Parser p(spec);
    auto s = parse_section(p);
    if (!s || !p.at_end()) return std::nullopt;
    sec = std::move(*s);
  }
  auto data = read_regular_file(dir + "/cur/" + e->name, limits_.max_literal);
  if (!data) return std::nullopt;
  return UrlTarget{Message(to_crlf(*data)), std::move(sec), f.uidvalidity()};
}

}  // namespace imapd
