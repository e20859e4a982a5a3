// mailauth_db: see mailauth_db.hpp.
#include "mail/mailauth_db.hpp"

#include "mail/conf.hpp"
#include "base/secret.hpp"
#include "base/strings.hpp"

namespace postern::mailauth {

Entry::~Entry() {
  secret::wipe(apop);
  secret::wipe(hash);
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '-' || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '+' || c == '@' || c == '=';
    if (!ok) return false;
  }
  return true;
}

namespace {

bool is_hex(std::string_view s) {
  if (s.size() % 2) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::optional<Entry> parse(std::string_view line, std::string& why) {
  if (has_control(line)) {
    why = "control characters";
    return std::nullopt;
  }
  auto f = split(line, ':');
  if (f.size() != 8) {
    why = "not 8 fields separated by ':'";
    return std::nullopt;
  }
  Entry e;
  e.name = f[0];
  e.hash = f[1];
  e.apop = f[2];
  e.flags = f[3];
  e.unix_user = f[4];
  e.home = f[7];
  const std::string uid = f[5], gid = f[6];
  for (auto& s : f) secret::wipe(s);
  if (!valid_name(e.name)) {
    why = "bad name";
    return std::nullopt;
  }
  if (!e.hash.empty() && e.hash.rfind("$argon2", 0) != 0) {
    why = "the password hash is not an argon2 hash";
    return std::nullopt;
  }
  if (!is_hex(e.apop)) {
    why = "the APOP secret is not hex";
    return std::nullopt;
  }
  if (e.flags != "" && e.flags != "d") {
    why = "unknown flags";
    return std::nullopt;
  }
  if (!uid.empty() || !gid.empty() || !e.home.empty()) {
    auto u = to_number(uid), g = to_number(gid);
    if (!u || !g || e.home.empty() || e.home[0] != '/' || *u > 0x7fffffffUL || *g > 0x7fffffffUL) {
      why = "uid, gid and home must all be given (home an absolute path)";
      return std::nullopt;
    }
    if (!e.unix_user.empty()) {
      why = "both a Unix user and uid/gid/home";
      return std::nullopt;
    }
    e.uid = static_cast<uid_t>(*u);
    e.gid = static_cast<gid_t>(*g);
  } else if (!e.unix_user.empty() && !valid_name(e.unix_user)) {
    why = "bad Unix user name";
    return std::nullopt;
  }
  return e;
}

std::string format(const Entry& e) {
  std::string out;
  out.reserve(256 + e.home.size());
  out += e.name;
  out += ':';
  out += e.hash;
  out += ':';
  out += e.apop;
  out += ':';
  out += e.flags;
  out += ':';
  out += e.unix_user;
  out += ':';
  if (e.uid) out += std::to_string(*e.uid);
  out += ':';
  if (e.gid) out += std::to_string(*e.gid);
  out += ':';
  out += e.home;
  return out;
}

std::string text_path() { return conf::path("users/mailauth"); }
std::string cdb_path() { return conf::path("users/mailauth.cdb"); }

}  // namespace postern::mailauth
