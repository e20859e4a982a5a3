// queue_write: the steps of putting one message into the queue, shared by
// queue (one message a process) and queued (the long-running writer), so
// that both leave the same files in the same order and check the envelope
// the same way. Paths are relative to conf-home/queue, the caller's working
// directory. Each step returns 0 or a qmail-queue exit code
// (mail/queue_exit.hpp); none syncs a directory: the caller does, queue
// alone and queued for a batch of messages at once.
#pragma once
#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

#include "base/io.hpp"
#include "mail/envelope.hpp"

namespace postern::queue_write {

constexpr std::size_t max_envelope = 64 << 20;
constexpr std::size_t max_address = 1001;

// The first line of every queued message: who handed it in. pid and uid
// are the caller's as the kernel knows them, never as the caller says.
std::string received_line(long pid, unsigned long uid, std::time_t now);

// Checks an envelope as queue always has: 0 (and out filled),
// address_too_long (a field over max_address) or envelope_format.
int check_envelope(std::string_view bytes, Envelope& out);

// Creates the message file: pid/<pid_name>, then linked into mess/ under
// a new id (queue_dirs::make_id) and its pid/ name removed. pid_path and
// mess_path name what exists at each moment (empty when nothing), so a
// failure or a signal handler can remove it.
int create_message(const std::string& pid_name, Fd& fd, std::string& id, std::string& pid_path,
                   std::string& mess_path);

// Writes and fsyncs the envelope as pid/ID.envelope (its name in tmp_path
// as soon as it exists), to be linked into todo/ once mess/ is durable.
int write_envelope(const std::string& id, const Envelope& envelope, std::string& tmp_path);

// The same without the fsync, which is the caller's to do (with fd, left
// open) before the link into todo/: queued writes the envelope before it
// syncs the message, so that one journal commit makes both durable.
int write_envelope_unsynced(const std::string& id, const Envelope& envelope, std::string& tmp_path, Fd& fd);

// Links the durable envelope into todo/ID. link(2), unlike rename(2),
// never replaces an entry: an envelope already there belongs to no message
// of ours. Sets why for the log line on failure.
int link_todo(const std::string& id, const std::string& tmp_path, std::string& why);

}  // namespace postern::queue_write
