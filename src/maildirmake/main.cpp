// maildirmake: makes a Maildir, or a Maildir++ folder in one, as Courier's
// and Dovecot's users know the command:
//
//   maildirmake DIR            DIR/{cur,new,tmp}, mode 0700
//   maildirmake -f NAME DIR    DIR/.NAME/{cur,new,tmp} and maildirfolder
//
// The directory is made whole under a temporary name beside it and renamed
// into place, so a delivery never finds half a Maildir. An existing
// Maildir (or folder) is left as it is and is no error; an empty directory
// is made into one; anything else that exists is refused, never changed.
// NAME is UTF-8, stored in IMAP's modified UTF-7 as imapd and Dovecot
// store it; "." separates levels (Work.Projects).
//
// Runs as whoever calls it and trusts its arguments as theirs. Exits 0
// when DIR (or the folder) is a Maildir afterwards, 1 otherwise, 2 on a
// usage error.
#include <dirent.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/io.hpp"
#include "base/unique.hpp"
#include "imap/imap_store.hpp"
#include "mail/maildir.hpp"
#include "imap/imap_utf7.hpp"

using namespace postern;

namespace {

[[noreturn]] void fail(const std::string& text, int code = 1) {
  write_all(2, "maildirmake: " + text + "\n");
  std::_Exit(code);
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_maildir(const std::string& dir) {
  return is_dir(dir) && is_dir(dir + "/cur") && is_dir(dir + "/new") && is_dir(dir + "/tmp");
}

// An existing directory with nothing in it.
bool is_empty_dir(const std::string& dir) {
  if (!is_dir(dir)) return false;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  ::closedir(d);
  return empty;
}

void make_maildir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (is_maildir(dir)) {
    write_all(1, "maildirmake: " + dir + " is a Maildir already\n");
    return;
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0 && !is_empty_dir(dir))
    fail(dir + " exists and is not a Maildir: not touched");
  if (!maildir::create(dir)) fail("unable to make " + dir + ": " + std::strerror(errno));
}

void make_folder(std::string root, const std::string& name) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!is_maildir(root)) fail(root + " is not a Maildir (make it first: maildirmake " + root + ")");
  auto wire = imap::utf7_encode(name);
  if (!wire || name.empty() || name.find('/') != std::string::npos || !imap::valid_name(*wire) ||
      imap::is_inbox(*wire))
    fail("not a folder name: " + name, 2);
  std::string dir = imap::folder_dir(root, *wire);
  if (is_maildir(dir)) {
    write_all(1, "maildirmake: folder " + name + " exists already in " + root + "\n");
    return;
  }
  if (!imap::create_folder(root, *wire)) {
    if (errno == EEXIST) fail(dir + " exists and is not a Maildir folder: not touched");
    fail("unable to make " + dir + ": " + std::strerror(errno));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string folder;
  bool have_folder = false;
  int c;
  while ((c = ::getopt(argc, argv, "+f:")) != -1) {
    if (c != 'f') fail("usage: maildirmake [-f folder] dir", 2);
    folder = optarg;
    have_folder = true;
  }
  if (optind + 1 != argc) fail("usage: maildirmake [-f folder] dir", 2);
  std::string dir = argv[optind];
  if (dir.empty()) fail("usage: maildirmake [-f folder] dir", 2);
  if (have_folder) {
    make_folder(dir, folder);
  } else {
    make_maildir(dir);
  }
  return 0;
}
