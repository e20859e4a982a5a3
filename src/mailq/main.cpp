// mailq: lists every message in the queue: its id, size, arrival time and
// sender, and each recipient still waiting, with the reason of its last
// failure. Reads queue/todo and queue/state and never writes (installed
// setgid postern so that any user may run it, as with sendmail -bp).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/date.hpp"
#include "mail/envelope.hpp"
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
    Entry entry{id, {}, false};
    if (auto text = read_file(queue_dirs::state(id), 64 << 20)) {
      if (auto st = decode_state(*text)) {
        entry.state = std::move(*st);
        entry.processed = true;
      }
    }
    if (!entry.processed) {
      auto bytes = read_file(queue_dirs::todo(id), 64 << 20);
      auto env = bytes ? decode_envelope(*bytes) : std::nullopt;
      if (!env) continue;  // finished while we looked
      struct stat st {};
      entry.state.arrived = ::stat(queue_dirs::todo(id).c_str(), &st) == 0 ? st.st_mtime : 0;
      entry.state.sender = env->sender;
      for (auto& r : env->recipients) entry.state.recipients.push_back(RecipientState{r, '?', 'P', 0, 0, ""});
    }
    entries.push_back(std::move(entry));
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.state.arrived < b.state.arrived; });
  for (auto& e : entries) {
    struct stat st {};
    long size = ::stat(queue_dirs::mess(e.id).c_str(), &st) == 0 ? static_cast<long>(st.st_size) : 0;
    std::printf("%s  %ld bytes  %s  <%s>%s\n", e.id.c_str(), size, rfc5322_date(e.state.arrived).c_str(),
                e.state.sender.c_str(), e.processed ? "" : "  (not yet seen by send)");
    for (auto& r : e.state.recipients) {
      if (r.state != 'P' && r.state != 'B') continue;
      const char* where = r.channel == 'L' ? "local" : r.channel == 'R' ? "remote" : "new";
      std::printf("    %s <%s>%s%s%s\n", where, r.address.c_str(), r.state == 'B' ? "  (failed; bounce pending)" : "",
                  r.reason.empty() ? "" : "\n        last failure: ", log::printable(r.reason, 300).c_str());
    }
  }
  std::printf("%zu message%s in the queue\n", entries.size(), entries.size() == 1 ? "" : "s");
  return 0;
}
