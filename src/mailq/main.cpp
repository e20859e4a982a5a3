// mailq: lists every message in the queue: its id, size, arrival time and
// sender, and each recipient still waiting, with the reason of its last
// failure and its next attempt; a held message has '!' after its id, as
// Postfix's mailq shows it. Reads queue/todo and queue/state and never writes (installed
// setgid postern so that any user may run it, as with sendmail -bp).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/date.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_state.hpp"
#include "mail/status.hpp"

using namespace postern;

int main() {
  log::set_program("mailq");
  DIR* d = ::opendir(queue_dirs::todo_dir().c_str());
  if (!d) log::die(status::temporary, "unable to read the queue: " + queue_dirs::todo_dir());
  struct Entry {
    std::string id;
    MessageState state;
    bool processed;
  };
  std::vector<Entry> entries;
  while (auto* e = ::readdir(d)) {
    std::string id = e->d_name;
    if (!queue_dirs::valid_id(id)) continue;
    if (auto q = read_queued(id)) entries.push_back(Entry{id, std::move(q->state), q->seen_by_send});
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.state.arrived < b.state.arrived; });
  for (auto& e : entries) {
    struct stat st {};
    long size = ::stat(queue_dirs::mess(e.id).c_str(), &st) == 0 ? static_cast<long>(st.st_size) : 0;
    // Postfix marks a held message with '!' after its id; scripts know it.
    std::printf("%s%s  %ld bytes  %s  <%s>%s\n", e.id.c_str(), e.state.held() ? "!" : "", size,
                rfc5322_date(e.state.arrived).c_str(), e.state.sender.c_str(),
                e.processed ? "" : "  (not yet seen by send)");
    if (e.state.held()) std::printf("    (on hold, by %s: queuectl release -i %s)\n", e.state.held_by.c_str(), e.id.c_str());
    for (auto& r : e.state.recipients) {
      if (r.state != 'P' && r.state != 'B') continue;
      const char* where = r.channel == 'L' ? "local" : r.channel == 'R' ? "remote" : "new";
      std::printf("    %s <%s>  (%s)%s%s\n", where, r.address.c_str(), describe_recipient(r).c_str(),
                  r.reason.empty() ? "" : "\n        last failure: ", log::printable(r.reason, 300).c_str());
    }
  }
  std::printf("%zu message%s in the queue\n", entries.size(), entries.size() == 1 ? "" : "s");
  return 0;
}
