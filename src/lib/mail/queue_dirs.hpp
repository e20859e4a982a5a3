// queue_dirs: the layout of conf-home/queue, shared by queue, send, clean,
// lspawn and mailq. A message is known by its id, made by make_id from the
// time queue created its file and that file's inode number: never given to
// two messages on one host, even when the file system reuses the inode.
//
//   pid/     queue's files while a message is being written   (posternq)
//   mess/ID  the message, as queue wrote it                     (posternq)
//   todo/ID  its envelope, once the message is durable          (posternq)
//   state/ID send's record of each recipient's fate             (posterns)
//   ctl/NAME an administrator's request to send (queuectl)  (root, posternq)
//   lock/trigger  a fifo: one byte wakes send; 'R' retries all  (posterns)
//   lock/send     held by the running send, so only one runs
//   lock/queued   queued's socket (posternq; lock/ is posternq's, so no
//                 one else can put another socket in its place)
//
// Only queue and queued create files in mess/ and todo/; only clean
// removes them.
#pragma once
#include <cstdint>
#include <string>

#include "mail/conf.hpp"

namespace postern::queue_dirs {

inline std::string root() { return conf::path("queue"); }
inline std::string pid_dir() { return conf::path("queue/pid"); }
inline std::string mess_dir() { return conf::path("queue/mess"); }
inline std::string todo_dir() { return conf::path("queue/todo"); }
inline std::string state_dir() { return conf::path("queue/state"); }
inline std::string mess(const std::string& id) { return mess_dir() + "/" + id; }
inline std::string todo(const std::string& id) { return todo_dir() + "/" + id; }
inline std::string state(const std::string& id) { return state_dir() + "/" + id; }
inline std::string ctl_dir() { return conf::path("queue/ctl"); }
inline std::string trigger() { return conf::path("queue/lock/trigger"); }
inline std::string send_lock() { return conf::path("queue/lock/send"); }
inline std::string writer_socket() { return conf::path("queue/lock/queued"); }

// The byte written to the trigger to ask send to retry every message now.
constexpr char retry_all = 'R';

// Pokes send through the trigger fifo; silently does nothing when send is
// not running (the message is picked up when it starts).
void poke_send(char byte = 'x');

// A new message's id, in the spirit of Postfix's long queue ids: the time
// (6 characters of seconds, then 4 of microseconds, fixed width) and then
// the inode number, all in base 62 with digits < upper < lower case, so
// that ids sort as their arrival and hold letters and digits only. The
// inode alone is reused as soon as it is freed; with the time beside it an
// id can only repeat if the same inode is freed and taken again within one
// microsecond of a clock that went back, and queue's link(2) refuses even
// that while the first message is in the queue.
std::string make_id(std::int64_t seconds, long microseconds, std::uint64_t inode);

// A queue id: letters and digits only (1 to 40), so it is safe in a path.
// The digits-only ids (bare inode numbers) of a queue written before the
// upgrade are still valid, so such a queue is delivered.
bool valid_id(const std::string& id);

}  // namespace postern::queue_dirs
