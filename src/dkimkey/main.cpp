// dkimkey: makes a DKIM key pair for a domain and selector and prints the
// DNS record to publish, as opendkim-genkey does:
//
//   dkimkey [-t rsa|ed25519] [-b bits] DOMAIN SELECTOR   a new key
//   dkimkey -p DOMAIN SELECTOR                           an existing key's record
//
// The private key goes to conf-home/control/dkim/DOMAIN/SELECTOR.key, mode
// 0400, owned by the DKIM user (posternk): only dkimsign reads it. An
// existing key is never replaced. The key signs nothing until the
// administrator, having published the record, adds "DOMAIN SELECTOR" to
// control/dkimkeys (dkimsign(8)).
//
// Run by root (or, in a single-user install, by its owner); trusts its
// arguments as the administrator's, after checking that DOMAIN and
// SELECTOR are names and so cannot leave control/dkim. Exits 0 when done,
// 1 when it could not, 2 on a usage error.
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/io.hpp"
#include "base/strings.hpp"
#include "keypair.hpp"
#include "mail/conf.hpp"
#include "mail/dkim_keys.hpp"

using namespace postern;
using namespace postern::dkimkey;

namespace {

[[noreturn]] void fail(const std::string& text, int code = 1) {
  write_all(2, "dkimkey: " + text + "\n");
  std::_Exit(code);
}

[[noreturn]] void usage() {
  fail("usage: dkimkey [-t rsa|ed25519] [-b bits] domain selector\n       dkimkey -p domain selector", 2);
}

// Makes dir (mode 0700) if missing and gives it to the DKIM user.
void make_dir(const std::string& dir, uid_t uid, gid_t gid) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail("unable to make " + dir + ": " + std::strerror(errno));
  if (!conf::single_user && ::chown(dir.c_str(), uid, gid) != 0)
    fail("unable to give " + dir + " to " + conf::user_dkim + ": " + std::strerror(errno));
}

void write_key(const std::string& path, const std::string& pem, uid_t uid, gid_t gid) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400));
  if (!fd.ok() && errno == EEXIST)
    fail(path + " exists already: it is never replaced (remove it first, or print its record with -p)");
  if (!fd.ok()) fail("unable to create " + path + ": " + std::strerror(errno));
  bool ok = (conf::single_user || ::fchown(fd.get(), uid, gid) == 0) && write_all(fd.get(), pem) && ::fsync(fd.get()) == 0;
  if (!ok) {
    int e = errno;
    ::unlink(path.c_str());
    fail("unable to write " + path + ": " + std::strerror(e));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Kind kind = Kind::rsa;
  unsigned bits = 2048;
  bool print_only = false;
  for (int c; (c = ::getopt(argc, argv, "t:b:p")) != -1;) {
    if (c == 't' && std::string(optarg) == "rsa") kind = Kind::rsa;
    else if (c == 't' && std::string(optarg) == "ed25519") kind = Kind::ed25519;
    else if (c == 'b' && to_number(optarg) && *to_number(optarg) >= 1024 && *to_number(optarg) <= 8192)
      bits = static_cast<unsigned>(*to_number(optarg));
    else if (c == 'b') fail("-b takes a number of bits from 1024 to 8192 (RFC 8301 asks for at least 1024; 2048 is the default)", 2);
    else if (c == 'p') print_only = true;
    else usage();
  }
  if (argc - optind != 2) usage();
  dkim_keys::Key key{lower(argv[optind]), lower(argv[optind + 1])};
  if (!dkim_keys::valid_domain(key.domain)) fail("not a domain name: " + std::string(argv[optind]), 2);
  if (!dkim_keys::valid_domain(key.selector)) fail("not a selector (letters, digits, '-' and dots): " + std::string(argv[optind + 1]), 2);
  std::string path = dkim_keys::key_path(key);

  std::string pem;
  if (print_only) {
    auto text = read_file(path, 64 * 1024);
    if (!text) fail("unable to read " + path + ": " + std::strerror(errno));
    pem = *text;
  } else {
    uid_t uid = 0;
    gid_t gid = 0;
    if (!conf::single_user) {
      if (::geteuid() != 0) fail("run me as root: the key must belong to " + std::string(conf::user_dkim));
      const passwd* pw = ::getpwnam(conf::user_dkim);
      if (!pw) fail(std::string("no user ") + conf::user_dkim + " (run make setup first)");
      uid = pw->pw_uid;
      gid = pw->pw_gid;
    }
    ::umask(077);
    make_dir(conf::path("control/dkim"), uid, gid);
    make_dir(conf::path("control/dkim/" + key.domain), uid, gid);
    auto made = make_private(kind, bits);
    if (!made) fail("OpenSSL could not make the key");
    write_key(path, *made, uid, gid);
    pem = *made;
  }
  auto pub = public_of(pem);
  if (!pub) fail(path + " holds no RSA or Ed25519 private key in PEM form");
  std::string what = pub->kind == "rsa" ? "an RSA key of " + std::to_string(pub->bits) + " bits" : "an Ed25519 key";
  std::string out = "; " + what + " for " + key.domain + ", selector " + key.selector + ", in " + path + ".\n" +
                    "; Publish this record, then add the line \"" + key.domain + " " + key.selector +
                    "\" to control/dkimkeys.\n" +
                    zone_line(key.selector + "._domainkey." + key.domain + ".", record_text(*pub)) + "\n";
  if (!write_all(1, out)) return 1;
  return 0;
}
