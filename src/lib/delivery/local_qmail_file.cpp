// local_qmail_file: finding the user's instructions. Checks the home directory
// (the current directory) and the .qmail file for being writable by others:
// a .qmail anyone else can edit would let them run programs as the user,
// so such a delivery is deferred until the user fixes the mode.
//
// The extension comes from the network; dot_qmail::candidates has already
// made it safe as a file name (lowercase, '.' to ':', no '/').
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mail/dot_qmail.hpp"
#include "base/io.hpp"
#include "delivery/local_parts.hpp"

namespace postern::delivery {

namespace {

constexpr mode_t writable_by_others = S_IWGRP | S_IWOTH;
constexpr std::size_t max_qmail = 1 << 20;

std::string error_text(const std::string& what, int e) {
  return "Unable to " + what + ": " + std::strerror(e) + ". (#4.3.0)";
}

enum class Found { yes, no, failed };

// Opens one candidate. Only a regular file counts (as in qmail), and the
// open never blocks: a fifo named .qmail-x must not hang the delivery.
Found try_open(const std::string& name, std::string& text, Outcome& failure) {
  Fd fd(::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.ok()) {
    // A name too long for the file system cannot exist: as if absent, so
    // the -default files still apply (and a long address is not deferred
    // for the whole queue lifetime).
    if (errno == ENOENT || errno == ENAMETOOLONG) return Found::no;
    failure = temporary(error_text("open " + name, errno));
    return Found::failed;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    failure = temporary(error_text("stat " + name, errno));
    return Found::failed;
  }
  if (!S_ISREG(st.st_mode)) return Found::no;
  if (st.st_mode & writable_by_others) {
    failure = temporary("Uh-oh: " + name + " file is writable by group or others. (#4.7.0)");
    return Found::failed;
  }
  auto body = read_all(fd.get(), max_qmail);
  if (!body) {
    failure = temporary(errno == EFBIG ? "Uh-oh: " + name + " is larger than 1 MB. (#4.7.0)"
                                       : error_text("read " + name, errno));
    return Found::failed;
  }
  text = std::move(*body);
  return Found::yes;
}

}  // namespace

Outcome check_home() {
  struct stat st {};
  if (::stat(".", &st) != 0) return temporary(error_text("stat home directory", errno));
  if (st.st_mode & writable_by_others)
    return temporary("Uh-oh: home directory is writable by group or others. (#4.7.0)");
  if (st.st_mode & S_ISVTX)
    return temporary("Home directory is sticky: user is editing his .qmail file. (#4.2.1)");
  return {};
}

Outcome find_instructions(Context& c, std::string& text, std::string& source) {
  auto names = dot_qmail::candidates(c.dash, c.ext);
  if (!names)
    return permanent("Sorry, no mailbox here by that name (the extension contains a '/'). (#5.1.1)");
  for (const auto& candidate : *names) {
    Outcome failure;
    switch (try_open(candidate.name, text, failure)) {
      case Found::failed:
        return failure;
      case Found::no:
        continue;
      case Found::yes:
        c.default_part = candidate.default_part;
        source = candidate.name;
        if (text.empty()) {  // an empty file means: deliver as by default
          text = c.default_delivery;
          source = "default delivery (" + candidate.name + " is empty)";
        }
        return {};
    }
  }
  // Nothing found. With a dash the address named an extension (or, for
  // the alias user, a name) that nobody made a file for.
  if (!c.dash.empty()) return permanent("Sorry, no mailbox here by that name. (#5.1.1)");
  text = c.default_delivery;
  source = "default delivery";
  return {};
}

}  // namespace postern::delivery
