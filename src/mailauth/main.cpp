// mailauth: keeps the mail password database, users/mailauth, and its
// compiled form users/mailauth.cdb, which checkpassword reads (mailauth(5)).
//
//   mailauth add [-n] [-m unix-user | -d home [-u uid] [-g gid]] NAME
//   mailauth passwd NAME        set the password (read from stdin)
//   mailauth apop NAME          set the APOP secret (empty: remove it)
//   mailauth disable NAME | enable NAME | del NAME
//   mailauth list               one line an entry, no secrets
//   mailauth rebuild            recompile the cdb after editing the text
//
// Passwords are read from the terminal without echo, twice, when stdin is
// a terminal; otherwise one line of stdin. Hashes are argon2id
// (crypto_pwhash_str). Both files are written atomically with mode 0600;
// changes are serialised by a lock on users/mailauth.lock. See mailauth(8).
#include <pwd.h>
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>



#include "base/cdb.hpp"
#include "mail/conf.hpp"
#include "base/io.hpp"
#include "base/lock.hpp"
#include "mail/mailauth_db.hpp"
#include "base/secret.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

[[noreturn]] void usage() {
  std::fputs(
      "usage: mailauth add [-n] [-m unix-user | -d home [-u uid] [-g gid]] NAME\n"
      "       mailauth passwd|apop|disable|enable|del NAME\n"
      "       mailauth list | rebuild\n",
      stderr);
  std::exit(2);
}

[[noreturn]] void fail(const std::string& text, int code = status::temporary) {
  std::fprintf(stderr, "mailauth: %s\n", text.c_str());
  std::exit(code);
}

// One line of stdin, or a password typed twice without echo on a terminal.
void read_secret(const char* what, std::string& out) {
  out.clear();
  out.reserve(600);
  auto read_line = [&](std::string& s) {
    char c;
    for (;;) {
      ssize_t r = ::read(0, &c, 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0 || c == '\n') break;
      if (s.size() >= 512) {
        secret::wipe(s);
        fail(std::string(what) + " longer than 512 bytes", 2);
      }
      s += c;
    }
    if (!s.empty() && s.back() == '\r') s.pop_back();
  };
  if (!::isatty(0)) {
    read_line(out);
    return;
  }
  struct termios old {};
  ::tcgetattr(0, &old);
  struct termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  secret::String again;
  std::fprintf(stderr, "%s: ", what);
  ::tcsetattr(0, TCSAFLUSH, &quiet);
  read_line(out);
  std::fprintf(stderr, "\nagain: ");
  read_line(again.get());
  ::tcsetattr(0, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  if (!secret::equal(out, again.get())) {
    secret::wipe(out);
    fail("the two did not match", 1);
  }
}

// argon2id with OWASP's first choice (19 MiB, 2 passes, 1 lane) rather
// than libsodium's interactive limits (64 MiB, 2 passes, which Dovecot's
// ARGON2ID also takes): still memory-hard, a third of the CPU and memory a
// login costs the server, so a login server under a burst of logins does
// not spend most of its time and memory hashing. Each hash string carries
// its own limits: older hashes keep verifying as they were made.
constexpr unsigned long long hash_opslimit = 2;
constexpr std::size_t hash_memlimit = 19456 * 1024;

std::string hash_password(const std::string& password) {
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(hash, password.data(), password.size(), hash_opslimit, hash_memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    fail("out of memory hashing the password");
  return hash;
}

struct Db {
  std::vector<std::string> lines;  // the text file, comments included
  ~Db() {
    for (auto& l : lines) secret::wipe(l);
  }

  void load() {
    auto text = read_file(mailauth::text_path(), 64 << 20);
    if (!text) {
      if (errno != ENOENT) fail("cannot read " + mailauth::text_path() + ": " + std::strerror(errno));
      return;
    }
    lines = split(*text, '\n');
    secret::wipe(*text);
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
  }

  static bool comment(const std::string& l) { return l.empty() || l[0] == '#'; }

  // The index of name's line, or -1.
  long find(const std::string& name) const {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (comment(lines[i])) continue;
      if (lines[i].substr(0, lines[i].find(':')) == name) return static_cast<long>(i);
    }
    return -1;
  }

  mailauth::Entry entry(long i) const {
    std::string why;
    auto e = mailauth::parse(lines[static_cast<std::size_t>(i)], why);
    if (!e) fail("line " + std::to_string(i + 1) + " of " + mailauth::text_path() + ": " + why);
    return std::move(*e);
  }

  // Checks every line, then writes the text and the cdb.
  void save() {
    CdbWriter w;
    if (!w.start(mailauth::cdb_path(), 0600)) fail("cannot write " + mailauth::cdb_path() + ": " + std::strerror(errno));
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (comment(lines[i])) continue;
      std::string why;
      auto e = mailauth::parse(lines[i], why);
      if (!e) fail("line " + std::to_string(i + 1) + " of " + mailauth::text_path() + ": " + why);
      for (auto& s : seen)
        if (s == e->name) fail("line " + std::to_string(i + 1) + ": " + e->name + " appears twice");
      seen.push_back(e->name);
      if (!w.add(e->name, lines[i])) fail("cannot write " + mailauth::cdb_path() + ": " + std::strerror(errno));
    }
    secret::String text;
    for (auto& l : lines) text.get() += l + "\n";
    if (!write_file_atomic(mailauth::text_path(), text.get(), 0600))
      fail("cannot write " + mailauth::text_path() + ": " + std::strerror(errno));
    if (!w.finish()) fail("cannot write " + mailauth::cdb_path() + ": " + std::strerror(errno));
  }
};

std::string need_name(int argc, char** argv) {
  if (optind != argc - 1) usage();
  std::string name = argv[optind];
  if (!mailauth::valid_name(name)) fail("bad name " + name + " (letters, digits and . _ - + @ =)", 2);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) fail("libsodium did not start");
  ::umask(077);
  if (argc < 2) usage();
  std::string cmd = argv[1];
  optind = 2;
  if (!conf::single_user && ::geteuid() != 0) fail("must be run as root", 1);

  Fd lockfd(::open(conf::path("users/mailauth.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lockfd.ok()) fail("cannot open " + conf::path("users/mailauth.lock") + ": " + std::strerror(errno));
  if (lock::fcntl_lock(lockfd.get(), std::chrono::seconds(30)) != lock::Result::locked)
    fail("cannot lock " + conf::path("users/mailauth.lock"));

  Db db;
  db.load();

  if (cmd == "list") {
    if (optind != argc) usage();
    for (std::size_t i = 0; i < db.lines.size(); ++i) {
      if (Db::comment(db.lines[i])) continue;
      auto e = db.entry(static_cast<long>(i));
      std::string account = e.virtual_account()
                                ? fmt::format("uid {} gid {} home {}", *e.uid, *e.gid, e.home)
                                : "unix user " + (e.unix_user.empty() ? e.name : e.unix_user);
      std::printf("%s\t%s%s%s\t%s\n", e.name.c_str(), e.hash.empty() ? "no-password" : "password",
                  e.apop.empty() ? "" : ",apop", e.disabled() ? ",disabled" : "", account.c_str());
    }
    return 0;
  }
  if (cmd == "rebuild") {
    if (optind != argc) usage();
    db.save();
    return 0;
  }
  if (cmd == "add") {
    bool no_password = false;
    std::string unix_user, home, uid, gid;
    int opt;
    while ((opt = ::getopt(argc, argv, "nm:d:u:g:")) != -1) {
      switch (opt) {
        case 'n': no_password = true; break;
        case 'm': unix_user = optarg; break;
        case 'd': home = optarg; break;
        case 'u': uid = optarg; break;
        case 'g': gid = optarg; break;
        default: usage();
      }
    }
    std::string name = need_name(argc, argv);
    if (db.find(name) >= 0) fail(name + " is already in " + mailauth::text_path() + "; use passwd", 1);
    mailauth::Entry e;
    e.name = name;
    if (!unix_user.empty() && !home.empty()) fail("give -m or -d, not both", 2);
    if ((!uid.empty() || !gid.empty()) && home.empty()) fail("-u and -g go with -d", 2);
    if (!home.empty()) {
      if (home[0] != '/') fail("the home directory must be an absolute path", 2);
      struct stat st {};
      bool have = ::stat(home.c_str(), &st) == 0;
      if (uid.empty() && !have) fail("no directory " + home + " to take the uid from: give -u and -g", 2);
      auto u = uid.empty() ? std::optional<unsigned long>(st.st_uid) : to_number(uid);
      auto g = gid.empty() ? std::optional<unsigned long>(st.st_gid) : to_number(gid);
      if (!u || !g) fail("bad uid or gid", 2);
      if (*u == 0 && !conf::single_user) fail("uid 0: mail is never read as root", 2);
      e.uid = static_cast<uid_t>(*u);
      e.gid = static_cast<gid_t>(*g);
      e.home = home;
    } else {
      std::string who = unix_user.empty() ? name : unix_user;
      struct passwd* pw = ::getpwnam(who.c_str());
      if (!pw) fail("no Unix user " + who + ": give -m unix-user or -d home", 2);
      if (pw->pw_uid == 0 && !conf::single_user) fail(who + " has uid 0: mail is never read as root", 2);
      e.unix_user = unix_user;
    }
    if (!no_password) {
      secret::String pw;
      read_secret("password", pw.get());
      if (pw.get().empty()) fail("empty password (use -n for none)", 1);
      e.hash = hash_password(pw.get());
    }
    std::string why;
    if (!mailauth::parse(mailauth::format(e), why)) fail("bad entry: " + why, 2);
    db.lines.push_back(mailauth::format(e));
    db.save();
    return 0;
  }

  std::string name = need_name(argc, argv);
  long i = db.find(name);
  if (i < 0) fail("no entry " + name + " in " + mailauth::text_path(), 1);
  auto e = db.entry(i);
  if (cmd == "passwd") {
    secret::String pw;
    read_secret("password", pw.get());
    if (pw.get().empty()) fail("empty password", 1);
    e.hash = hash_password(pw.get());
  } else if (cmd == "apop") {
    secret::String s;
    read_secret("APOP secret", s.get());
    std::string hex(s.get().size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(s.get().data()), s.get().size());
    hex.pop_back();
    secret::wipe(e.apop);
    e.apop = hex;
    secret::wipe(hex);
  } else if (cmd == "disable") {
    e.flags = "d";
  } else if (cmd == "enable") {
    e.flags = "";
  } else if (cmd == "del") {
    secret::wipe(db.lines[static_cast<std::size_t>(i)]);
    db.lines.erase(db.lines.begin() + i);
    db.save();
    return 0;
  } else {
    usage();
  }
  secret::wipe(db.lines[static_cast<std::size_t>(i)]);
  db.lines[static_cast<std::size_t>(i)] = mailauth::format(e);
  db.save();
  return 0;
}
