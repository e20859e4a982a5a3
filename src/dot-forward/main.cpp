// dot-forward: honours a user's ~/.forward, as sendmail reads it, from the
// default delivery of the +df boot variants:
//
//   |dot-forward .forward
//   ./Maildir/
//
// With no such file it exits 0 and the next line delivers as usual. With
// one, it delivers to each entry, separated by commas or newlines:
// addresses (forwarded), "|command", /file (an mbox), and \USER, which keeps
// a copy in the user's own mailbox; # starts a comment. Then it exits 99,
// so the next line does not apply, unless \USER asked for a local copy.
// A .forward that is not the user's own or that others can write to is
// refused (a temporary failure), as sendmail refuses it.
//
// The deliveries are local's own (local -i), as the user, so exit codes and
// the Delivered-To loop check work as in any .qmail file. A |command gets
// the message after a From_ line, as sendmail and Postfix give it (preline).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mail/aliases.hpp"
#include "mail/delivery_env.hpp"
#include "base/io.hpp"
#include "mail/status.hpp"
#include "base/strings.hpp"

using namespace postern;

namespace {

[[noreturn]] void quit(int code, const std::string& text) {
  write_all(1, text + "\n");
  std::_Exit(code);
}

// A .forward program gets the message as sendmail and Postfix hand it:
// after a "From sender date" line (and Return-Path:, Delivered-To:), which
// vacation(1) and other mbox-era programs insist on. preline (in local's
// PATH) writes them; the command itself still goes to the shell whole.
std::string with_from_line(const std::string& target) {
  std::string quoted = "'";
  for (char c : target.substr(1)) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return "|preline /bin/sh -c " + quoted + "'";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) quit(status::temporary, "usage: dot-forward file (#4.3.5)");
  std::string file = argv[1];
  std::string user = delivery_env::get("USER");
  std::string host = delivery_env::get("HOST");
  if (user.empty() || host.empty()) quit(status::temporary, "dot-forward runs from a .qmail file. (#4.3.5)");

  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.ok()) {
    if (errno == ENOENT) return status::ok;
    quit(status::temporary, "Unable to open " + file + ": " + std::strerror(errno) + ". (#4.3.0)");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & 022))
    quit(status::temporary, "Uh-oh: " + file + " is not a plain file of yours that only you can write. (#4.7.0)");
  auto text = read_all(fd.get(), 1 << 20);
  if (!text) quit(status::temporary, "Unable to read " + file + ". (#4.3.0)");

  std::string instructions;
  bool keep_copy = false;
  for (auto& line : split(*text, '\n')) {
    auto l = trim(line);
    if (l.empty() || l.front() == '#') continue;
    std::string why;
    for (auto& t : aliases::split_targets(l, why)) {
      switch (aliases::kind_of(t)) {
        case aliases::Kind::program: instructions += with_from_line(t) + "\n"; break;
        case aliases::Kind::file: instructions += t + "\n"; break;
        case aliases::Kind::local_only:
          if (lower(t.substr(1)) == lower(user)) keep_copy = true;
          else instructions += "&" + t.substr(1) + "@" + host + "\n";
          break;
        case aliases::Kind::include: quit(status::temporary, "Uh-oh: " + file + " may not use :include:. (#4.7.0)");
        case aliases::Kind::address:
          instructions += "&" + t + (t.find('@') == std::string::npos ? "@" + host : "") + "\n";
          break;
      }
    }
    if (!why.empty()) quit(status::temporary, "Uh-oh: " + file + " has a bad line: " + why + " (#4.7.0)");
  }
  // A .forward with nothing in it (or only \USER) leaves the mail here.
  if (instructions.empty()) return status::ok;
  int code = delivery_env::deliver(instructions, delivery_env::get("SENDER"));
  if (code == status::ok && !keep_copy) return status::ok_stop;
  return code;
}
