// checkpassword: checks a login and starts a program as the user, with the
// interface of D. J. Bernstein's checkpassword, so pop3d can use any
// checkpassword program and this one can serve any checkpassword client.
//
//   checkpassword prog [args...]
//
// Reads "user\0password\0timestamp\0" from descriptor 3. The password is
// checked against users/mailauth.cdb first (an entry there overrides the
// login password: see mailauth(5)), else against the shadow file. With a
// timestamp, a password of 32 hex digits is also accepted as the APOP
// digest of the timestamp and the user's APOP secret. A user in neither
// file is looked up in the user directory (LDAP, postern-ldap(5)) when
// control/ldapserver names one: the password is checked by binding as the
// entry, and the account is the entry's uidNumber, gidNumber and
// homeDirectory. An account the directory places on another mailbox host
// is refused, unless AUTHONLY is set (the login parent of authhttp and
// smtpd -s sets it): then prog runs as posternd in /, with MAILHOST set. On success it sets
// USER, LOGNAME, HOME and SHELL, changes to the home directory, becomes the
// user (never root) and runs prog. Exit 1: login refused; 111: temporary
// failure; 2: misuse. See checkpassword(8).
//
// Runs as root (it reads the shadow file and becomes the user), started by
// the login parent of pop3d or imapd. Trusts its caller for prog and the
// descriptors only: the name, password and timestamp on descriptor 3 come
// from the network and are bounded and checked; secrets are compared in
// constant time and wiped after use.
#include <crypt.h>
#include <shadow.h>
#include <pwd.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>

#include "base/cdb.hpp"
#include "directory/mail_directory.hpp"
#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/mailauth_db.hpp"
#include "login/login_request.hpp"
#include "mail/privilege.hpp"
#include "base/secret.hpp"

using namespace postern;

namespace {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};

std::string client() {
  const char* ip = std::getenv("TCPREMOTEIP");
  return ip ? std::string(" from ") + log::printable(ip, 64) : std::string();
}

[[noreturn]] void refuse(const std::string& user, const std::string& why) {
  log::line("login refused for {}{}: {}", log::printable(user, 64), client(), why);
  std::_Exit(1);
}

[[noreturn]] void temporary(const std::string& why) { log::die(111, why); }

bool is_hex32(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

bool apop_matches(const login::Request& r, const std::string& secret_hex) {
  if (r.timestamp.empty() || secret_hex.empty() || !is_hex32(r.password)) return false;
  secret::String key;
  key.get().resize(secret_hex.size() / 2);
  std::size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(key.get().data()), key.get().size(), secret_hex.data(),
                     secret_hex.size(), nullptr, &len, nullptr) != 0)
    return false;
  key.get().resize(len);
  secret::String input;
  input.get() = r.timestamp;
  input.get() += key.get();
  std::string digest = secret::md5_hex(input.get());
  secret::String given;
  for (char c : r.password) given.get() += static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c);
  bool ok = !digest.empty() && secret::equal(digest, given.get());
  secret::wipe(digest);
  return ok;
}

bool account_of_unix(const std::string& name, Account& a) {
  errno = 0;
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) {
    if (errno != 0 && errno != ENOENT && errno != ESRCH) temporary("cannot read the password file");
    return false;
  }
  a.name = pw->pw_name;
  a.uid = pw->pw_uid;
  a.gid = pw->pw_gid;
  a.home = pw->pw_dir;
  a.shell = pw->pw_shell;
  return true;
}

// A system account's password, from the shadow file (or the password file
// when it holds the hash itself).
bool system_password_ok(const std::string& user, const std::string& password) {
  errno = 0;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return false;
  std::string hash = pw->pw_passwd ? pw->pw_passwd : "";
  if (hash == "x") {
    errno = 0;
    struct spwd* sp = ::getspnam(user.c_str());
    if (!sp) {
      if (errno == EACCES || errno == EPERM) temporary("cannot read the shadow file (not root?)");
      return false;
    }
    long today = static_cast<long>(std::time(nullptr) / 86400);
    if (sp->sp_expire > 0 && today >= sp->sp_expire) return false;
    hash = sp->sp_pwdp ? sp->sp_pwdp : "";
  }
  if (hash.empty() || hash[0] == '!' || hash[0] == '*') {
    secret::wipe(hash);
    return false;
  }
  auto data = std::make_unique<struct crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  const char* out = ::crypt_r(password.c_str(), hash.c_str(), data.get());
  bool ok = out && out[0] != '*' && secret::equal(out, hash);
  sodium_memzero(data.get(), sizeof *data);
  secret::wipe(hash);
  return ok;
}

// The directory's account for the login, when it has one: true with acct
// set (the password was right); false when it does not know the login.
// Refuses or fails temporarily itself.
bool directory_account(const login::Request& req, Account& acct) {
  auto& dir = directory::mail_directory();
  std::string why;
  if (!dir.reload(why)) temporary(why);
  if (!dir.configured()) return false;
  directory::MailEntry e;
  switch (dir.find_login(req.user, e, why)) {
    case directory::Found::error: temporary("unable to ask the user directory: " + why);
    case directory::Found::no: return false;
    case directory::Found::yes: break;
  }
  int right = dir.check_password(e, req.password, why);
  if (right < 0) temporary("unable to check a password in the user directory: " + why);
  if (right == 0) refuse(req.user, "wrong password (user directory)");
  if (!dir.here(e)) {
    const char* only = std::getenv("AUTHONLY");
    if (!only || std::string_view(only) != "1") refuse(req.user, "the mailbox is on " + e.mailhost);
    struct passwd* pw = ::getpwnam(conf::user_daemon);
    if (!pw) temporary(std::string("no user ") + conf::user_daemon);
    acct = Account{e.login, pw->pw_uid, pw->pw_gid, "/", "/usr/sbin/nologin"};
    ::setenv("MAILHOST", e.mailhost.c_str(), 1);
    return true;
  }
  if (!e.uid || !e.gid || e.home.empty()) temporary("the directory entry " + e.dn + " names no account");
  acct = Account{e.login, *e.uid, *e.gid, e.home, "/usr/sbin/nologin"};
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("checkpassword");
  if (argc < 2) log::die(2, "usage: checkpassword prog [args...]");
  if (sodium_init() < 0) temporary("libsodium did not start");

  std::string raw;
  raw.reserve(1100);
  {
    char buf[1025];
    std::size_t got = 0;
    for (;;) {
      ssize_t r = ::read(3, buf + got, sizeof buf - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) log::die(2, "cannot read descriptor 3");
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
      if (got == sizeof buf) log::die(2, "more than 1024 bytes on descriptor 3");
    }
    ::close(3);
    raw.assign(buf, got);
    sodium_memzero(buf, sizeof buf);
  }
  auto req = login::decode_request(raw);
  secret::wipe(raw);
  if (!req) log::die(2, "malformed request on descriptor 3");

  if (req->user == "root") refuse(req->user, "root logins are refused");

  Account acct;
  bool ok = false;
  CdbReader db;
  std::optional<std::string> line;
  if (db.open(mailauth::cdb_path())) {
    line = db.find(req->user);
    if (!line && db.read_error()) temporary("cannot read " + mailauth::cdb_path());
  } else if (errno != ENOENT) {
    temporary("cannot open " + mailauth::cdb_path() + ": " + std::strerror(errno));
  }

  if (line) {
    std::string why;
    auto e = mailauth::parse(*line, why);
    secret::wipe(*line);
    if (!e) temporary("bad entry for " + log::printable(req->user, 64) + " in mailauth.cdb: " + why);
    if (e->disabled()) refuse(req->user, "disabled in mailauth");
    if (!e->hash.empty() && !req->password.empty() &&
        crypto_pwhash_str_verify(e->hash.c_str(), req->password.data(), req->password.size()) == 0)
      ok = true;
    if (!ok && apop_matches(*req, e->apop)) ok = true;
    if (!ok) refuse(req->user, "wrong password");
    if (e->virtual_account()) {
      acct.name = e->name;
      acct.uid = *e->uid;
      acct.gid = *e->gid;
      acct.home = e->home;
      acct.shell = "/usr/sbin/nologin";
    } else if (!account_of_unix(e->unix_user.empty() ? e->name : e->unix_user, acct)) {
      temporary("mailauth entry " + e->name + " names no Unix user");
    }
    acct.name = e->name;
  } else if (!conf::single_user && directory_account(*req, acct)) {
    // checked by the directory
  } else {
    if (conf::single_user) {
      struct passwd* me = ::getpwuid(::getuid());
      if (!me || req->user != me->pw_name) refuse(req->user, "no such mail user (single-user mode)");
    }
    if (!account_of_unix(req->user, acct)) refuse(req->user, "no such user");
    if (!system_password_ok(req->user, req->password)) refuse(req->user, "wrong password");
  }
  secret::wipe(req->password);

  if (acct.uid == 0 && !conf::single_user) refuse(req->user, "the account has uid 0: root logins are refused");
  if (acct.gid == 0 && !conf::single_user) refuse(req->user, "the account has gid 0: root's group never logs in");
  if (!conf::single_user) {
    if (::geteuid() == 0) {
      if (!become(acct.uid, acct.gid)) temporary("cannot become uid " + std::to_string(acct.uid));
    } else if (::getuid() != acct.uid) {
      temporary("not root: cannot become uid " + std::to_string(acct.uid));
    }
  }
  if (::chdir(acct.home.c_str()) != 0) temporary("cannot change to " + acct.home + ": " + std::strerror(errno));
  ::setenv("USER", acct.name.c_str(), 1);
  ::setenv("LOGNAME", acct.name.c_str(), 1);
  ::setenv("HOME", acct.home.c_str(), 1);
  ::setenv("SHELL", acct.shell.c_str(), 1);
  ::execvp(argv[1], argv + 1);
  temporary(std::string("cannot run ") + argv[1] + ": " + std::strerror(errno));
}
