// clean: removes the files of finished messages from the queue, on request.
//
// Runs as posternq, the owner of queue/mess and queue/todo, started by start
// with requests from send on fd 0 and replies to send on fd 1. Each request
// is one line, "D<id>\n": remove todo/<id>, then mess/<id> (in that order, so
// a crash between the two leaves a message file with no envelope, which the
// sweep below removes, never an envelope without its message). The reply is
// "+\n" when both are gone, "-<reason>\n" otherwise.
//
// At start and every hour it also sweeps files that no one will ever
// finish: queue/pid files, and mess files with neither an envelope in todo/
// nor a record in state/, once they are older than 36 hours (queue gives up
// on a message after 24 hours, so such a file is certainly abandoned).
//
// Trusts send only as far as the id: letters and digits, checked here (a
// power cut may undo these unsynced removals; ids are never reused, so
// what comes back names only this finished message). Never runs as
// root in a multi-user install: it removes files, and posternq owns all it
// needs. When it exits (end of file from send, or killed), send notices
// and stops so that the whole system is restarted.
#include <dirent.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/queue_dirs.hpp"
#include "base/strings.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

constexpr std::time_t abandoned_after = 36 * 3600;

bool remove_message(const std::string& id, std::string& why) {
  for (const auto& path : {queue_dirs::todo(id), queue_dirs::mess(id)}) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      why = "cannot remove " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void sweep_dir(const std::string& dir, bool check_owner_records) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::time_t now = std::time(nullptr);
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || now - st.st_mtime < abandoned_after) continue;
    if (check_owner_records && (exists(queue_dirs::todo(name)) || exists(queue_dirs::state(name)))) continue;
    if (::unlink(path.c_str()) == 0) log::line("swept abandoned file {}", path);
  }
  ::closedir(d);
}

void sweep() {
  sweep_dir(queue_dirs::pid_dir(), false);
  sweep_dir(queue_dirs::mess_dir(), true);
}

}  // namespace

int main() {
  log::set_program("clean");
  if (!conf::single_user && (::getuid() == 0 || ::geteuid() == 0))
    log::die(status::temporary, "refusing to run as root");
  sweep();
  std::time_t last_sweep = std::time(nullptr);
  LineReader in(0, 100);
  for (;;) {
    if (in.buffered() == 0) {
      pollfd p{0, POLLIN, 0};
      int r = ::poll(&p, 1, 3600 * 1000);
      if (r < 0 && errno != EINTR) log::die(status::temporary, "poll failed");
      if (std::time(nullptr) - last_sweep >= 3600) {
        sweep();
        last_sweep = std::time(nullptr);
      }
      if (r <= 0) continue;
    }
    std::string line;
    auto r = in.next(line);
    if (r == LineReader::Result::eof || r == LineReader::Result::error) return 0;
    std::string reply;
    std::string req(chomp(line));
    if (r == LineReader::Result::too_long || req.size() < 2 || req[0] != 'D' ||
        !queue_dirs::valid_id(req.substr(1))) {
      log::line("refused malformed request {}", log::printable(req, 60));
      reply = "-malformed request\n";
    } else {
      std::string why;
      reply = remove_message(req.substr(1), why) ? "+\n" : "-" + why + "\n";
      if (reply[0] == '-') log::line("{}", why);
    }
    if (!write_all(1, reply)) return 0;
  }
}
