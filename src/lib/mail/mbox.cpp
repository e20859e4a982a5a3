// mbox: see mbox.hpp.
#include "mail/mbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/date.hpp"
#include "base/io.hpp"
#include "base/lock.hpp"

namespace postern::mbox {

namespace {

constexpr std::string_view from_word = "From ";
constexpr std::size_t flush_at = 1 << 16;

// Opens the mailbox for appending without following a link someone else
// planted, and without blocking on a fifo. Returns -1 with errno set.
int open_mailbox(const std::string& path, std::string& why) {
  int flags = O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == ELOOP) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) &&
        (st.st_uid == ::geteuid() || st.st_uid == 0)) {
      fd = ::open(path.c_str(), flags, 0600);
    } else {
      why = "it is a symbolic link owned by someone else";
      errno = ELOOP;
      return -1;
    }
  }
  if (fd < 0) {
    why = std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "it is not a regular file";
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result failure(int e, std::string text) {
  Result r;
  r.error_number = e;
  r.text = std::move(text);
  return r;
}

}  // namespace

std::string from_line(std::string_view sender, std::time_t t) {
  std::string s = "From ";
  if (sender.empty()) {
    s += "MAILER-DAEMON";
  } else {
    for (char c : sender) s += (c == ' ' || c == '\t' || c == '\n' || c == '\r') ? '-' : c;
  }
  return s + " " + mbox_date(t) + "\n";
}

void FromQuoter::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    if (!at_start_) {
      // The middle of a line: copy through its end in one go.
      std::size_t nl = in.find('\n', i);
      if (nl == std::string_view::npos) {
        out.append(in.substr(i));
        return;
      }
      out.append(in.substr(i, nl + 1 - i));
      i = nl + 1;
      at_start_ = true;
      continue;
    }
    char c = in[i++];
    if (matched_ == 0 && c == '>') {
      // Adding the quoting '>' anywhere in the run of '>' gives the same
      // bytes, so these need not be held back.
      out += c;
    } else if (c == from_word[matched_]) {
      if (++matched_ == from_word.size()) {
        out += '>';
        out.append(from_word);
        matched_ = 0;
        at_start_ = false;
      }
    } else {
      out.append(from_word.substr(0, matched_));
      matched_ = 0;
      out += c;
      at_start_ = (c == '\n');
    }
  }
}

void FromQuoter::finish(std::string& out) {
  out.append(from_word.substr(0, matched_));
  matched_ = 0;
  at_start_ = true;
}

std::string quote(std::string_view message) {
  std::string out;
  FromQuoter q;
  q.feed(message, out);
  q.finish(out);
  return out;
}

Result deliver(const std::string& path, std::string_view from_line, std::string_view prefix,
               int in, const Options& options) {
  lock::DotLock dot;
  switch (dot.acquire(path + ".lock", options.lock_timeout, options.stale_lock)) {
    case lock::Result::locked:
    case lock::Result::denied:  // no write access to the directory: fcntl alone
      break;
    case lock::Result::timeout:
      return failure(ETIMEDOUT, "mailbox " + path + " is locked (" + path + ".lock)");
    case lock::Result::error:
      return failure(errno, "unable to create " + path + ".lock: " + std::strerror(errno));
  }

  std::string why;
  Fd fd(open_mailbox(path, why));
  if (!fd.ok()) return failure(errno, "unable to open " + path + ": " + why);

  switch (lock::fcntl_lock(fd.get(), options.lock_timeout)) {
    case lock::Result::locked:
      break;
    case lock::Result::timeout:
      return failure(ETIMEDOUT, "mailbox " + path + " is locked");
    default:
      return failure(errno, "unable to lock " + path + ": " + std::strerror(errno));
  }

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    int e = errno;
    lock::fcntl_unlock(fd.get());
    return failure(e, "unable to stat " + path + ": " + std::strerror(e));
  }
  const off_t original = st.st_size;

  std::string out;
  out.reserve(flush_at * 2);
  out.append(from_line);
  out.append(prefix);
  char last = out.empty() ? '\n' : out.back();
  std::string error;
  int err = 0;
  auto flush = [&]() {
    if (out.empty()) return true;
    last = out.back();
    if (!write_all(fd.get(), out)) {
      err = errno;
      error = "unable to write " + path + ": " + std::strerror(errno);
      return false;
    }
    out.clear();
    return true;
  };

  FromQuoter quoter;
  char buf[65536];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      error = std::string("unable to read the message: ") + std::strerror(errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    quoter.feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
    if (out.size() >= flush_at && !(ok = flush())) break;
  }
  if (ok) {
    quoter.finish(out);
    char end = out.empty() ? last : out.back();
    if (end != '\n') out += '\n';
    out += '\n';
    ok = flush();
  }
  if (ok && ::fsync(fd.get()) != 0) {
    err = errno;
    error = "unable to sync " + path + ": " + std::strerror(errno);
    ok = false;
  }
  if (!ok) {
    // Cut back to where we started so no reader sees half a message.
    if (::ftruncate(fd.get(), original) == 0) ::fsync(fd.get());
  }
  lock::fcntl_unlock(fd.get());
  if (!ok) return failure(err, error);
  Result r;
  r.ok = true;
  r.text = path;
  r.offset = static_cast<std::uint64_t>(original);
  return r;
}

}  // namespace postern::mbox
