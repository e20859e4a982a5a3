// queue_dirs: the layout of conf-home/queue, shared by queue, send, clean,
// lspawn and mailq. A message is known by its id, the inode number of its
// file in mess/.
//
//   pid/     queue's files while a message is being written   (posternq)
//   mess/ID  the message, as queue wrote it                     (posternq)
//   todo/ID  its envelope, once the message is durable          (posternq)
//   state/ID send's record of each recipient's fate             (posterns)
//   lock/trigger  a fifo: one byte wakes send; 'R' retries all  (posterns)
//   lock/send     held by the running send, so only one runs
//
// Only queue creates files in mess/ and todo/; only clean removes them.
#pragma once
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
inline std::string trigger() { return conf::path("queue/lock/trigger"); }
inline std::string send_lock() { return conf::path("queue/lock/send"); }

// The byte written to the trigger to ask send to retry every message now.
constexpr char retry_all = 'R';

// Pokes send through the trigger fifo; silently does nothing when send is
// not running (the message is picked up when it starts).
void poke_send(char byte = 'x');

// A queue id: digits only (the inode number), so it is safe in a path.
bool valid_id(const std::string& id);

}  // namespace postern::queue_dirs
