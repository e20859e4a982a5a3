// imapd-mailbox: imapd's mailbox stage, IMAP's authenticated and selected
// states over the user's Maildir++ tree. checkpassword starts it as the
// mail's owner, in the owner's home, with the client on descriptors 0 and 1:
//
//   checkpassword imapd-mailbox [maildir]     (maildir defaults to Maildir)
//
// With IMAPLOGINTAG set (by imapd, for the LOGIN or AUTHENTICATE that
// succeeded) it answers that command's tagged OK; without it, it greets
// with "* PREAUTH" (for tests and for running it over a trusted channel).
// It never runs as root. Before its first line it exits 111 on failure
// without writing; after it, always 0. See imapd(8).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mail/conf.hpp"
#include "mail/status.hpp"
#include "mail/control.hpp"
#include "base/deadline.hpp"
#include "imap/imap_parse.hpp"
#include "base/log.hpp"
#include "base/netio.hpp"
#include "compress.hpp"
#include "session.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("imapd-mailbox");
  std::signal(SIGPIPE, SIG_IGN);
  if (argc > 2) log::die(status::temporary, "usage: imapd-mailbox [maildir]");
  if (!conf::single_user && (::getuid() == 0 || ::geteuid() == 0)) log::die(status::temporary, "refusing to run as root");
  ::umask(077);
  std::string dir = argc == 2 ? argv[1] : "Maildir";
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty() || dir[0] != '/') {
    const char* home = std::getenv("HOME");
    if (!home || home[0] != '/') log::die(status::temporary, "HOME is not set");
    dir = std::string(home) + "/" + dir;
  }
  const char* user = std::getenv("USER");
  const char* ip = std::getenv("TCPREMOTEIP");
  std::string who = log::printable(user ? user : "?", 64) + " from " + log::printable(ip ? ip : "unknown", 64);
  const char* t = std::getenv("IMAPLOGINTAG");
  std::string tag = t ? t : "";
  if (!tag.empty() && (tag.size() > 64 || !imap::tag_of(tag + " x"))) log::die(status::temporary, "bad IMAPLOGINTAG");
  ::unsetenv("IMAPLOGINTAG");

  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    // A user who never got mail has no Maildir yet: make one.
    ::mkdir(dir.c_str(), 0700);
    for (const char* sub : {"/cur", "/new", "/tmp"}) ::mkdir((dir + sub).c_str(), 0700);
  }
  if (::stat((dir + "/cur").c_str(), &st) != 0 || ::stat((dir + "/new").c_str(), &st) != 0)
    log::die(status::temporary, who + ": no Maildir " + dir + " (new/ and cur/)");
  log::line("{}: logged in", who);

  // The per-read timeout lets a client that sends a byte a minute stay
  // for ever; the deadline does not (a client in IDLE logs in again).
  auto deadline = control::number("deadlineimapd", 86400);
  if (!deadline) log::die(status::temporary, "bad control/deadlineimapd");
  FdTransport fd_transport(0, 1);
  // COMPRESS (compress.hpp) sits under the deadline, so a goodbye the
  // deadline writes is compressed too once the client asked for it.
  imapd::CompressTransport compress(fd_transport);
  DeadlineTransport tr(compress);
  tr.add(*deadline, "* BYE [UNAVAILABLE] session time limit reached; log in again\r\n",
         fmt::format("{}: session time limit ({} seconds, control/deadlineimapd) reached", who, *deadline));
  NetIO io(tr, 1800);
  auto literal = control::line("literalimapd", "+");
  if (!literal || (*literal != "+" && *literal != "-")) log::die(status::temporary, "bad control/literalimapd");
  imapd::Session::literal_minus = *literal == "-";
  imapd::Session s(dir, io, who);
  s.set_user(user ? user : "");
  // Run by imapd-share(8) for another user: that user's rights only.
  if (const char* other = std::getenv("IMAPSHARE_FOR")) s.set_share(other);
  s.set_compress(&compress);
  if (imapd::Session::literal_minus) s.limits().max_nonsync = imap::literal_minus_max;
  s.run(tag);
}
