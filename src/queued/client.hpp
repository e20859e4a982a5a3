// client: one connection to queued, from the ready frame to the reply
// (mail/queue_wire.hpp). The message goes to disk chunk by chunk as it
// arrives (never whole in memory), the envelope (at most
// queue_write::max_envelope) is checked as queue checks it, and the reply
// goes out only when message, envelope and both directory entries are
// durable; the first three are synced at once (overlap.hpp). Trusts
// nothing from the peer but what the kernel says of it.
#pragma once
#include <atomic>
#include <cstddef>
#include <sys/types.h>

#include "group_sync.hpp"
#include "overlap.hpp"

namespace postern::queued {

struct Shared {
  GroupSync& mess;  // covers links into mess/, before any link into todo/
  GroupSync& todo;  // covers links into todo/, before any reply
  Overlap& overlap; // runs one message's syncs side by side
  int timeout_ms;   // the longest a client may stay silent
  // Envelope bytes held in memory by all clients together, and their
  // bound: one client may send 64 MB, 32 of them must not take 2 GB.
  std::atomic<std::size_t> envelope_bytes {0};
  static constexpr std::size_t envelope_budget = 256u << 20;
};

// Serves the connection fd (closed on return) from the peer pid and uid.
void serve(int fd, pid_t pid, uid_t uid, Shared& shared);

}  // namespace postern::queued
