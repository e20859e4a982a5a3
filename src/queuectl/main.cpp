// queuectl: the administrator's queue tool, in the manner of Postfix's
// postcat -q and postsuper and of qmail's qmHandle:
//
//   queuectl show [-h | -b] ID ...      envelope, each recipient's state,
//                                       then the message (root's only)
//   queuectl hold|release|requeue|delete [-i ID] [-r RECIPIENT]
//            [-s SENDER] [-d DOMAIN] [ALL]
//
// Only send changes the queue: a change is a request file in queue/ctl
// (mail/queue_request) that send applies between events, aware of the
// deliveries in flight, and answers with a line per message it acted on,
// which queuectl prints. Runs as its caller; send trusts a request by its
// file's owner (root or the queue's user), so nothing here needs a
// privilege. Exits 0 when send answered, 100 on a usage error or a refused
// request, 111 when send did not answer in time (the request then stays
// in queue/ctl and is applied when send runs).
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/date.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_request.hpp"
#include "mail/queue_state.hpp"
#include "mail/status.hpp"

using namespace postern;
namespace qr = postern::queue_request;

namespace {

// send's answer to a request, only from a regular file of send's user with
// one link: group postern (remote among it) may also create files in ctl/,
// and root must not be led to print another file or to hang on a fifo.
std::optional<std::string> read_answer(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.ok()) return std::nullopt;
  struct stat st {};
  uid_t sender = ::getuid();
  if (!conf::single_user) {
    struct passwd* pw = ::getpwnam(conf::user_send);
    if (!pw) return std::nullopt;
    sender = pw->pw_uid;
  }
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != sender ||
      st.st_size > (16 << 20)) {
    log::line("ignored {}: not a regular file of {} with one link", path, conf::user_send);
    ::unlink(path.c_str());
    return std::nullopt;
  }
  return read_all(fd.get(), 16 << 20);
}

constexpr int answer_wait_seconds = 60;

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) log::line("{}", why);
  log::line("usage: queuectl show [-h | -b] ID ...");
  log::line("       queuectl hold|release|requeue|delete [-i ID] [-r RECIPIENT] [-s SENDER] [-d DOMAIN] [ALL]");
  std::exit(status::permanent);
}

const char* channel_name(char c) { return c == 'L' ? "local" : c == 'R' ? "remote" : "not yet classified"; }

int show(const std::string& id, bool headers, bool body) {
  if (!queue_dirs::valid_id(id)) {
    log::line("not a queue id: {}", log::printable(id, 80));
    return status::permanent;
  }
  auto q = read_queued(id);
  Fd mess(::open(queue_dirs::mess(id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!q || !mess.ok()) {
    if (errno == EACCES) log::line("unable to read msg {}: only root or the queue's users may look into the queue", id);
    else log::line("msg {} is not in the queue", id);
    return status::permanent;
  }
  const MessageState& m = q->state;
  std::printf("*** ENVELOPE %s ***\n", id.c_str());
  std::printf("arrival: %s\n", rfc5322_date(m.arrived).c_str());
  std::printf("sender: <%s>\n", m.sender.c_str());
  if (m.held()) std::printf("held: by %s\n", m.held_by.c_str());
  if (!q->seen_by_send) std::printf("note: not yet seen by send\n");
  for (auto& r : m.recipients) {
    std::printf("recipient: <%s> %s: %s\n", r.address.c_str(), channel_name(r.channel), describe_recipient(r).c_str());
    if (!r.reason.empty())
      std::printf("    %s: %s\n", r.state == 'D' ? "reply" : "reason", log::printable(r.reason, 1000).c_str());
  }
  std::printf("*** MESSAGE %s ***\n", id.c_str());
  std::fflush(stdout);
  auto text = read_all(mess.get(), std::size_t{1} << 31);
  if (!text) {
    log::line("unable to read msg {}: {}", id, std::strerror(errno));
    return status::temporary;
  }
  std::size_t split = text->find("\n\n");
  split = split == std::string::npos ? text->size() : split + 1;
  std::string part = headers && !body ? text->substr(0, split) : !headers && body ? text->substr(split) : *text;
  std::fwrite(part.data(), 1, part.size(), stdout);
  if (!part.empty() && part.back() != '\n') std::putchar('\n');
  std::printf("*** END %s ***\n", id.c_str());
  return status::ok;
}

bool may_change_queue() {
  uid_t uid = ::getuid();
  if (uid == 0) return true;
  // In single-user mode the queue belongs to whoever runs the instance;
  // send then checks the request's owner against itself.
  if (conf::single_user) return true;
  const passwd* pw = ::getpwnam(conf::user_queue);
  return pw && pw->pw_uid == uid;
}

int change(const qr::Request& req) {
  if (!may_change_queue()) {
    log::line("only root or {} may change the queue", conf::user_queue);
    return status::permanent;
  }
  std::string name = fmt::format("{}x{}", std::time(nullptr), ::getpid());
  std::string path = queue_dirs::ctl_dir() + "/" + name;
  // Written beside its name and renamed, so send never reads half of it.
  if (!write_file_atomic(path, qr::encode(req), 0640, false)) {
    log::line("unable to write {}: {}", path, std::strerror(errno));
    return status::temporary;
  }
  std::string answer_path = path + ".answer";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(answer_wait_seconds);
  for (int tick = 0;; ++tick) {
    // A poke can be lost when the trigger is full: poke again now and then.
    if (tick % 100 == 0) queue_dirs::poke_send();
    if (auto answer = read_answer(answer_path)) {
      ::unlink(answer_path.c_str());
      std::fwrite(answer->data(), 1, answer->size(), stdout);
      return answer->starts_with("error") ? status::permanent : status::ok;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  log::line("send has not answered in {} seconds (is it running?); the request stays in {} and is applied when send runs",
            answer_wait_seconds, path);
  return status::temporary;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("queuectl");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) usage("");
  std::string verb = args[0];
  if (verb == "show") {
    bool headers = false, body = false;
    std::size_t i = 1;
    for (; i < args.size() && args[i].size() == 2 && args[i][0] == '-'; ++i) {
      if (args[i] == "-h") headers = true;
      else if (args[i] == "-b") body = true;
      else usage("unknown option " + args[i]);
    }
    if (i == args.size()) usage("show needs a queue id");
    int code = status::ok;
    for (; i < args.size(); ++i) code = std::max(code, show(args[i], headers, body));
    return code;
  }
  auto action = qr::action_from_name(verb);
  if (!action || *action == qr::Action::flush) usage("unknown command " + log::printable(verb, 40));
  qr::Request req{*action, {}};
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "ALL") {
      req.selectors.push_back({'a', ""});
      continue;
    }
    if (a != "-i" && a != "-r" && a != "-s" && a != "-d") usage("unknown argument " + log::printable(a, 80));
    if (i + 1 == args.size()) usage(a + " needs a value");
    qr::Selector s{a[1], args[++i]};
    // The same checks send makes, so that a typo is told here.
    if (!qr::valid_selector(s)) usage("not a valid value for " + a + ": " + log::printable(s.value, 80));
    req.selectors.push_back(std::move(s));
  }
  if (req.selectors.empty()) usage(verb + " needs -i, -r, -s, -d or ALL");
  return change(req);
}
