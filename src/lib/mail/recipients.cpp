// recipients: see recipients.hpp.
#include "mail/recipients.hpp"

#include <sys/stat.h>

#include "base/strings.hpp"
#include "mail/conf.hpp"

namespace postern::recipients {

namespace {

// True when the password file changed after the database was written
// (useradd since the last newrcpt).
bool passwd_is_newer() {
  struct stat db {}, pw {};
  if (::stat(conf::path("control/recipients.cdb").c_str(), &db) != 0 || ::stat("/etc/passwd", &pw) != 0) return false;
  if (pw.st_mtim.tv_sec != db.st_mtim.tv_sec) return pw.st_mtim.tv_sec > db.st_mtim.tv_sec;
  return pw.st_mtim.tv_nsec > db.st_mtim.tv_nsec;
}

}  // namespace

bool account_receives(const struct passwd& pw) {
  std::string name = pw.pw_name;
  if (pw.pw_uid == 0 || name != lower(name)) return false;
  struct stat st {};
  return ::stat(pw.pw_dir, &st) == 0 && st.st_uid == pw.pw_uid;
}

Known lookup(CdbReader& db, std::string_view local) {
  std::string key = "=" + std::string(local);
  if (db.find(key)) return Known::yes;
  if (db.read_error()) return Known::error;
  for (std::size_t n = local.size() + 1; n-- > 0;) {
    key = "+" + std::string(local.substr(0, n));
    if (db.find(key)) return Known::yes;
    if (db.read_error()) return Known::error;
  }
  if (!conf::single_user && !local.empty() && passwd_is_newer())
    if (struct passwd* pw = ::getpwnam(std::string(local).c_str()); pw && account_receives(*pw)) return Known::yes;
  return Known::no;
}

void keys_for_file(std::string_view local_prefix, std::string_view ext_prefix, std::string_view name,
                   std::vector<std::string>& keys) {
  std::string ext = lower(name);
  for (auto& c : ext)
    if (c == ':') c = '.';
  std::string lp(local_prefix);
  constexpr std::string_view def = "default";
  if (ext == def) {
    keys.push_back("+" + lp);
    return;
  }
  if (ext.size() > def.size() && ext.ends_with("-default")) {
    std::string stem = ext.substr(0, ext.size() - def.size());  // ends in '-'
    if (stem.starts_with(ext_prefix))
      keys.push_back("+" + lp + stem.substr(ext_prefix.size()));
    else if (ext_prefix.starts_with(stem))
      keys.push_back("+" + lp);
    return;
  }
  if (ext.starts_with(ext_prefix)) keys.push_back("=" + lp + ext.substr(ext_prefix.size()));
}

}  // namespace postern::recipients
