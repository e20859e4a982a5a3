// queue_write: see queue_write.hpp.
#include "mail/queue_write.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/date.hpp"
#include "base/strings.hpp"
#include "mail/queue_dirs.hpp"
#include "mail/queue_exit.hpp"

namespace postern::queue_write {

std::string received_line(long pid, unsigned long uid, std::time_t now) {
  return "Received: (postern " + std::to_string(pid) + " invoked by uid " + std::to_string(uid) + "); " +
         rfc5322_date(now) + "\n";
}

int check_envelope(std::string_view bytes, Envelope& out) {
  for (auto& field : split(bytes, '\0'))
    if (field.size() > max_address) return queue_exit::address_too_long;
  auto envelope = decode_envelope(bytes);
  if (!envelope) return queue_exit::envelope_format;
  out = std::move(*envelope);
  return queue_exit::queued;
}

int create_message(const std::string& pid_name, Fd& fd, std::string& id, std::string& pid_path,
                   std::string& mess_path) {
  pid_path = "pid/" + pid_name;
  fd.reset(::open(pid_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd.ok()) {
    pid_path.clear();
    return queue_exit::pid_dir;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return queue_exit::pid_dir;
  // The id carries the time beside the inode number, which the file system
  // hands to the next new file as soon as it is freed: a record or envelope
  // that outlives its message (a power cut can undo clean's removals) then
  // names no other message. link(2) never replaces an entry; should the
  // same id somehow be taken, a later microsecond gives another.
  for (int tries = 0;; ++tries) {
    timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    id = queue_dirs::make_id(ts.tv_sec, ts.tv_nsec / 1000, st.st_ino);
    if (::link(pid_path.c_str(), ("mess/" + id).c_str()) == 0) break;
    if (errno != EEXIST || tries >= 100) return queue_exit::mess_dir;
  }
  mess_path = "mess/" + id;
  ::unlink(pid_path.c_str());
  pid_path.clear();
  return queue_exit::queued;
}

int write_envelope_unsynced(const std::string& id, const Envelope& envelope, std::string& tmp_path, Fd& fd) {
  std::string path = "pid/" + id + ".envelope";
  fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd.ok()) return queue_exit::pid_dir;
  tmp_path = path;
  if (!write_all(fd.get(), encode_envelope(envelope))) return queue_exit::write_error;
  return queue_exit::queued;
}

int write_envelope(const std::string& id, const Envelope& envelope, std::string& tmp_path) {
  Fd env;
  int code = write_envelope_unsynced(id, envelope, tmp_path, env);
  if (code == queue_exit::queued && ::fsync(env.get()) != 0) return queue_exit::write_error;
  return code;
}

int link_todo(const std::string& id, const std::string& tmp_path, std::string& why) {
  if (::link(tmp_path.c_str(), ("todo/" + id).c_str()) == 0) return queue_exit::queued;
  why = errno == EEXIST ? "queue/todo/" + id + " exists already; left as it is" : "cannot link into queue/todo";
  return queue_exit::todo_dir;
}

}  // namespace postern::queue_write
