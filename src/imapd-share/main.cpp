// imapd-share: opens another user's folders for an IMAP session, as that
// user, for the rights its ACLs give the session's user (imapd(8),
// "Shared folders"):
//
//   imapd-share owner
//
// imapd's mailbox stage, which runs as the logged-in user and cannot read
// anyone else's Maildir, runs this program on a socket (descriptors 0 and
// 1) when the client names a folder in "Other Users.<owner>." or
// "Shared.". It is installed setuid root and does only this: it takes the
// requesting user from its real uid (never from its arguments or
// environment), checks the owner's name and account (not root, a home of
// its own), clears the environment, closes every other descriptor,
// becomes the owner for good, and runs imapd-mailbox in its share mode
// with IMAPSHARE_FOR set to the requester. That process, the owner's, is
// the one that reads the ACLs and checks every command against them
// (imapd-mailbox(8)): the requester's own session only relays.
//
// Exits 100 when the owner cannot share (no such user, root), 111 on a
// failure; else it is imapd-mailbox.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "imap/imap_shares.hpp"
#include "mail/conf.hpp"
#include "mail/privilege.hpp"
#include "mail/status.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("imapd-share");
  if (argc != 2 || !imap::shareable_name(argv[1])) log::die(status::permanent, "usage: imapd-share owner");
  std::string owner = argv[1];

  std::string requester;
  if (conf::single_user) {
    const char* u = std::getenv("USER");
    requester = u ? u : "";
  } else {
    const struct passwd* me = ::getpwuid(::getuid());
    if (me) requester = me->pw_name;
  }
  if (!imap::shareable_name(requester)) log::die(status::permanent, "the requesting user has no usable name");
  const char* ip = std::getenv("TCPREMOTEIP");
  std::string remote;  // for the log only, and only an address's characters
  if (ip && std::strlen(ip) <= 64 && std::strspn(ip, "0123456789abcdefABCDEF:.") == std::strlen(ip)) remote = ip;

  errno = 0;
  const struct passwd* pw = ::getpwnam(owner.c_str());
  if (!pw) log::die(status::permanent, "no such user: " + owner);
  if (!conf::single_user && pw->pw_uid == 0) log::die(status::permanent, "root's mail is not shared");
  struct stat st {};
  if (::stat(pw->pw_dir, &st) != 0 || (!conf::single_user && st.st_uid != pw->pw_uid))
    log::die(status::permanent, "the home of " + owner + " is not its own");
  std::string home = pw->pw_dir;
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;

  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  if (!become(uid, gid)) log::die(status::temporary, std::string("cannot become ") + owner + ": " + std::strerror(errno));
  if (::chdir(home.c_str()) != 0) log::die(status::temporary, "cannot enter " + home);

  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + home, "USER=" + owner, "LOGNAME=" + owner,
                                  "IMAPSHARE_FOR=" + requester};
  if (!remote.empty()) env.push_back("TCPREMOTEIP=" + remote);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string prog = conf::path("bin/imapd-mailbox");
  char* args[] = {const_cast<char*>("imapd-mailbox"), nullptr};
  ::execve(prog.c_str(), args, envp.data());
  log::die(status::temporary, "cannot run " + prog + ": " + std::strerror(errno));
}
