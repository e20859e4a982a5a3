// assign: see assign.hpp.
#include "mail/assign.hpp"

#include "base/strings.hpp"

namespace postern {

std::string encode_mail_user(const MailUser& u) {
  std::string out;
  for (const std::string& f : {u.user, std::to_string(u.uid), std::to_string(u.gid), u.home, u.dash, u.ext}) {
    out += f;
    out += '\0';
  }
  return out;
}

std::optional<MailUser> decode_mail_user(std::string_view bytes) {
  if (bytes.empty() || bytes.back() != '\0') return std::nullopt;
  bytes.remove_suffix(1);
  auto f = split(bytes, '\0');
  if (f.size() != 6) return std::nullopt;
  auto uid = to_number(f[1]);
  auto gid = to_number(f[2]);
  // A number uid_t or gid_t cannot hold would wrap to another account (2^32
  // is root), and -1 means "unchanged" to setresuid: refused.
  constexpr unsigned long max_id = 0xfffffffeUL;
  static_assert(sizeof(uid_t) == 4 && sizeof(gid_t) == 4);
  if (!uid || !gid || *uid > max_id || *gid > max_id || f[0].empty() || f[3].empty() || f[3][0] != '/')
    return std::nullopt;
  if (f[4] != "" && f[4] != "-") return std::nullopt;
  MailUser u;
  u.user = f[0];
  u.uid = static_cast<uid_t>(*uid);
  u.gid = static_cast<gid_t>(*gid);
  u.home = f[3];
  u.dash = f[4];
  u.ext = f[5];
  return u;
}

std::optional<AssignEntry> parse_assign_line(std::string_view line, std::string& why) {
  if (line.empty() || (line[0] != '=' && line[0] != '+')) {
    why = "a line must start with = or +";
    return std::nullopt;
  }
  auto f = split(line.substr(1), ':');
  // Seven fields and the empty one after the final colon.
  if (f.size() != 8 || !f[7].empty()) {
    why = "expected seven fields, each followed by a colon";
    return std::nullopt;
  }
  AssignEntry e;
  e.key = std::string(1, line[0]) + lower(f[0]);
  std::string value;
  for (int i = 1; i <= 6; ++i) value += f[i] + '\0';
  auto u = decode_mail_user(value);
  if (!u) {
    why = "bad user, uid, gid, home (absolute) or dash (- or empty)";
    return std::nullopt;
  }
  e.user = *u;
  return e;
}

Lookup lookup_assign(CdbReader& db, std::string_view local, MailUser& out) {
  auto exact = db.find("=" + std::string(local));
  if (db.read_error()) return Lookup::error;
  if (exact) {
    auto u = decode_mail_user(*exact);
    if (!u) return Lookup::error;
    out = *u;
    return Lookup::found;
  }
  for (std::size_t len = local.size() + 1; len-- > 0;) {
    auto v = db.find("+" + std::string(local.substr(0, len)));
    if (db.read_error()) return Lookup::error;
    if (!v) continue;
    auto u = decode_mail_user(*v);
    if (!u) return Lookup::error;
    out = *u;
    out.ext += std::string(local.substr(len));
    return Lookup::found;
  }
  return Lookup::absent;
}

}  // namespace postern
