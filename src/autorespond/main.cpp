// autorespond: answers a message once per sender per interval, for a
// user's .qmail (|autorespond ...) or ~/.forward (|/path/autorespond ...):
//
//   autorespond [-A] [-a address]... [-d dir] [-f from] [-n max] [-s subject]
//               [-t seconds] reply-file
//
// Reads the message on stdin (a leading mbox "From " line is skipped, as
// sendmail hands one to .forward programs) and the envelope sender from
// local's environment (SENDER; RPLINE when SENDER is absent). Replies, as
// RFC 3834 asks, only to a person: never to the null sender, MAILER-DAEMON
// and other robot senders, list or bulk mail (List-*, Precedence),
// auto-submitted mail, nor when none of the user's addresses is in To: or
// Cc: (unless -A). The reply goes through inject with the null envelope
// sender, so nothing ever answers it back.
//
// Who is answered when is remembered in a small directory (default
// ~/.autorespond), one empty file per sender named by a hash of the
// address, at most max (1000) of them: the oldest go first.
//
// Trusts local for its environment and the user for its arguments and
// reply-file (it runs as the user); trusts nothing in the message. Exits 0
// whether or not it answered (the message is delivered either way), 111
// on a temporary failure (state directory or inject), so local retries.
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/io.hpp"
#include "base/lock.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/conf.hpp"
#include "mail/header.hpp"
#include "mail/status.hpp"

using namespace postern;

namespace {

struct Options {
  std::vector<std::string> addresses;  // the user's, lower case
  bool anyone = false;                 // -A: answer when not in To:/Cc: too
  std::string dir;
  std::string from;
  std::size_t max_entries = 1000;
  std::string subject;
  long interval = 7 * 24 * 3600;
  std::string reply_file;
};

constexpr std::size_t max_header = 256 * 1024;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Exit 0 and say why: the message itself is delivered by the other lines
// of the .qmail file; a reply not sent is no reason to defer it.
[[noreturn]] void quiet(const std::string& why) {
  write_all(1, "autorespond: no reply: " + why + "\n");
  std::exit(status::ok);
}

[[noreturn]] void usage() {
  log::die(status::ok,
           "usage: autorespond [-A] [-a address]... [-d dir] [-f from] [-n max] [-s subject] [-t seconds] "
           "reply-file");
}

Options parse_options(int argc, char** argv) {
  Options o;
  int c;
  while ((c = ::getopt(argc, argv, "+Aa:d:f:n:s:t:")) != -1) {
    switch (c) {
      case 'A': o.anyone = true; break;
      case 'a': o.addresses.push_back(lower(optarg)); break;
      case 'd': o.dir = optarg; break;
      case 'f': o.from = optarg; break;
      case 'n': {
        auto n = to_number(optarg);
        if (!n || *n == 0 || *n > 1000000) usage();
        o.max_entries = *n;
        break;
      }
      case 's': o.subject = optarg; break;
      case 't': {
        auto n = to_number(optarg);
        if (!n || *n > 10ul * 365 * 24 * 3600) usage();
        o.interval = static_cast<long>(*n);
        break;
      }
      default: usage();
    }
  }
  if (optind + 1 != argc) usage();
  o.reply_file = argv[optind];
  std::string local = env("LOCAL"), host = env("HOST"), user = env("USER");
  if (o.addresses.empty() && !local.empty() && !host.empty()) o.addresses.push_back(lower(local + "@" + host));
  if (!user.empty() && !host.empty() && user != local) o.addresses.push_back(lower(user + "@" + host));
  if (o.from.empty() && !o.addresses.empty()) o.from = o.addresses.front();
  std::string home = env("HOME");
  if (o.dir.empty()) o.dir = home.empty() ? ".autorespond" : home + "/.autorespond";
  if (o.reply_file[0] != '/' && !home.empty()) o.reply_file = home + "/" + o.reply_file;
  return o;
}

// The envelope sender: local's SENDER, else the address in RPLINE
// ("Return-Path: <a@b>\n"); nullopt when neither is set.
std::optional<std::string> envelope_sender() {
  if (const char* s = std::getenv("SENDER")) return std::string(s);
  std::string rp = env("RPLINE");
  auto lt = rp.find('<'), gt = rp.rfind('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) return std::nullopt;
  return rp.substr(lt + 1, gt - lt - 1);
}

// The message's header, from stdin: at most max_header bytes, CRLF made
// LF, a leading "From " line dropped.
std::string read_header() {
  std::string text;
  char buf[8192];
  while (text.size() < max_header && text.find("\n\n") == std::string::npos) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) log::die(status::temporary, "unable to read the message");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i)
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) out += text[i];
  if (out.rfind("From ", 0) == 0) {
    auto nl = out.find('\n');
    out.erase(0, nl == std::string::npos ? out.size() : nl + 1);
  }
  auto end = out.find("\n\n");
  if (end != std::string::npos) out.resize(end + 1);
  return out;
}

// Senders that are programs, not people (RFC 3834 5.2 and vacation(1)'s
// list): a reply to them is at best thrown away, at worst a loop.
bool robot_sender(const std::string& sender) {
  if (sender.empty() || sender == "#@[]") return true;
  std::string local = lower(sender.substr(0, sender.rfind('@')));
  auto ends = [&](std::string_view s) { return local.size() >= s.size() && local.ends_with(s); };
  return local == "mailer-daemon" || local == "postmaster" || local == "listserv" || local == "majordomo" ||
         local.starts_with("owner-") || ends("-owner") || ends("-request") || ends("-bounces") ||
         local == "noreply" || local == "no-reply" || local == "donotreply";
}

// Why the message must not be answered, from its header; "" to answer.
std::string header_says_no(const std::vector<header::Field>& fields, const Options& o) {
  for (auto& f : fields) {
    std::string name = lower(f.name);
    std::string value = lower(header::unfold(f.value));
    if (name == "auto-submitted") {
      std::string kind(trim(value.substr(0, value.find_first_of(";( \t"))));
      if (kind != "no") return "Auto-Submitted: " + kind;
    }
    if (name == "precedence" && (value == "bulk" || value == "list" || value == "junk"))
      return "Precedence: " + value;
    if (name.starts_with("list-") || name == "mailing-list") return "list mail (" + f.name + ")";
    if (name == "x-auto-response-suppress" && (value.find("all") != std::string::npos ||
                                               value.find("oof") != std::string::npos))
      return "X-Auto-Response-Suppress";
  }
  if (o.anyone) return "";
  for (const char* name : {"to", "cc"}) {
    for (auto* f : header::find_all(fields, name)) {
      bool mine = false;
      header::for_each_mailbox(f->value, [&](const header::Mailbox& m) {
        mine = std::find(o.addresses.begin(), o.addresses.end(), lower(m.address)) != o.addresses.end();
        return !mine;
      });
      if (mine) return "";
    }
  }
  return "none of my addresses is in To: or Cc:";
}

// A header value from the message, made one safe line of at most max
// bytes (cut at a UTF-8 character's start).
std::string one_line(std::string_view value, std::size_t max) {
  std::string s;
  for (char c : header::unfold(value)) s += (static_cast<unsigned char>(c) < 32 || c == 127) ? ' ' : c;
  if (s.size() > max) {
    s.resize(max);
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
  }
  return s;
}

std::string compose(const std::vector<header::Field>& fields, const Options& o, const std::string& to,
                    const std::string& body) {
  std::string subject = o.subject;
  if (subject.empty()) {
    auto* f = header::find(fields, "subject");
    std::string orig = f ? one_line(f->value, 400) : "";
    subject = orig.empty() ? "Re: your message" : lower(orig.substr(0, 3)) == "re:" ? orig : "Re: " + orig;
  }
  std::string out = "From: " + o.from + "\nTo: " + to + "\nSubject: " + subject + "\n";
  auto* id = header::find(fields, "message-id");
  std::string msgid = id ? one_line(id->value, 998) : "";
  if (msgid.size() > 2 && msgid.front() == '<' && msgid.back() == '>' && msgid.find(' ') == std::string::npos) {
    out += "In-Reply-To: " + msgid + "\n";
    auto* refs = header::find(fields, "references");
    std::string chain = refs ? one_line(refs->value, 4000) : "";
    // The last few ids of a long thread only, on folded lines: a header
    // line over 998 bytes (RFC 5322) gets the reply refused.
    auto ids = split(chain, ' ');
    std::erase_if(ids, [](const std::string& s) { return s.size() < 3 || s.size() > 400; });
    if (ids.size() > 5) ids.erase(ids.begin(), ids.end() - 5);
    out += "References:";
    for (auto& i : ids) out += " " + i + "\n";
    out += " " + msgid + "\n";
  }
  out += "Auto-Submitted: auto-replied\n";
  out += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n";
  return out + body;
}

// Hands the reply to inject with the null envelope sender; its exit code.
int inject(const std::string& to, const std::string& message) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return status::temporary;
  pid_t pid = ::fork();
  if (pid < 0) return status::temporary;
  if (pid == 0) {
    ::dup2(p[0], 0);
    ::dup2(2, 1);  // inject's complaints go where ours go
    std::string prog = conf::path("bin/inject");
    ::execl(prog.c_str(), "inject", "-a", "-f", "", "--", to.c_str(), static_cast<char*>(nullptr));
    ::_exit(status::temporary);
  }
  ::close(p[0]);
  bool written = write_all(p[1], message);
  ::close(p[1]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!written) return status::temporary;
  return WIFEXITED(st) ? WEXITSTATUS(st) : status::temporary;
}

// The state file of a sender: a hash, so that no address becomes a path.
std::string entry_name(const std::string& sender) {
  unsigned char h[16];
  std::string key = lower(sender);
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr, 0);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : h) out += {hex[c >> 4], hex[c & 15]};
  return out;
}

// Keeps the directory under max entries: what is older than the interval
// goes, then the oldest, so one more fits.
void prune(const Options& o, std::time_t now) {
  DIR* d = ::opendir(o.dir.c_str());
  if (!d) return;
  std::vector<std::pair<std::time_t, std::string>> entries;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    std::string path = o.dir + "/" + e->d_name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) entries.emplace_back(st.st_mtime, path);
  }
  ::closedir(d);
  if (entries.size() < o.max_entries) return;
  std::sort(entries.begin(), entries.end());
  std::size_t keep = entries.size();
  for (auto& [when, path] : entries) {
    if (keep < o.max_entries && now - when < o.interval) break;
    if (::unlink(path.c_str()) == 0) --keep;
  }
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("autorespond");
  if (sodium_init() < 0) log::die(status::temporary, "unable to start libsodium");
  Options o = parse_options(argc, argv);
  auto sender = envelope_sender();
  if (!sender) quiet("neither SENDER nor RPLINE is set (autorespond runs from .qmail or .forward)");
  if (robot_sender(*sender)) quiet("the sender <" + log::printable(*sender, 200) + "> is no person");
  if (has_control(*sender) || sender->find_first_of("<>,\"") != std::string::npos)
    quiet("the sender's address is malformed");
  std::string text = read_header();
  auto fields = header::parse(text);
  std::string why = header_says_no(fields, o);
  if (!why.empty()) quiet(why);
  if (o.from.empty()) quiet("no address of mine is known (give -a, or run from .qmail)");

  auto body = read_file(o.reply_file, 64 * 1024);
  if (!body) quiet("unable to read " + o.reply_file + ": " + std::strerror(errno));

  if (::mkdir(o.dir.c_str(), 0700) != 0 && errno != EEXIST)
    log::die(status::temporary, "unable to make " + o.dir + ": " + std::strerror(errno));
  std::string lock_path = o.dir + "/.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd < 0 || lock::fcntl_lock(lock_fd, std::chrono::seconds(60)) != lock::Result::locked)
    log::die(status::temporary, "unable to lock " + lock_path);

  std::time_t now = std::time(nullptr);
  std::string entry = o.dir + "/" + entry_name(*sender);
  struct stat st {};
  if (::lstat(entry.c_str(), &st) == 0 && now - st.st_mtime < o.interval && st.st_mtime <= now)
    quiet("<" + *sender + "> was answered less than " + std::to_string(o.interval) + " seconds ago");
  prune(o, now);

  int code = inject(*sender, compose(fields, o, *sender, *body));
  if (code != 0) log::die(status::temporary, "inject failed with exit code " + std::to_string(code));
  // An empty file whose time is the answer's; written after the reply is
  // queued: a crash between the two answers once more, never not at all.
  ::unlink(entry.c_str());
  int fd = ::open(entry.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) ::close(fd);
  write_all(1, "autorespond: answered <" + log::printable(*sender, 200) + ">\n");
  return status::ok;
}
