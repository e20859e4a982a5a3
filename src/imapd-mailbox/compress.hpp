// compress: COMPRESS=DEFLATE (RFC 4978) for the mailbox stage. A Transport
// between the session's deadline and the client's descriptors: it passes
// bytes through until start(), then inflates what the client sends and
// deflates what the session writes (raw deflate, RFC 1951, with a sync
// flush at each write so every reply reaches the client whole). Trusts
// nothing it reads: a stream zlib rejects is a read error (the session
// ends), and a read inflates at most the n bytes asked for, so a small
// input that inflates to gigabytes (a decompression bomb) still costs only
// the session's bounded buffers.
#pragma once
#include <zlib.h>

#include <array>
#include <string>

#include "base/netio.hpp"

namespace imapd {

class CompressTransport : public postern::Transport {
 public:
  explicit CompressTransport(postern::Transport& inner) : inner_(inner) {}
  ~CompressTransport() override;
  CompressTransport(const CompressTransport&) = delete;
  CompressTransport& operator=(const CompressTransport&) = delete;

  // Compresses both ways from now on; false when zlib cannot start.
  bool start();
  bool active() const { return on_; }

  ssize_t read(char* buf, std::size_t n, int timeout) override;
  bool write(std::string_view data, int timeout) override;
  // Inflated bytes may wait here with nothing left in the socket: IDLE
  // and NOTIFY must read, not poll. (When inflate filled the last read
  // exactly, there may turn out to be none; the read then waits for the
  // client as it would have anyway.)
  bool pending() const override { return inner_.pending() || (on_ && (ended_ || more_out_ || in_.avail_in > 0)); }
  int wait_limit(int timeout) const override { return inner_.wait_limit(timeout); }

 private:
  postern::Transport& inner_;
  bool on_ = false;
  bool more_out_ = false;  // inflate filled the caller's buffer: it may hold more
  bool ended_ = false;
  z_stream in_{}, out_{};
  std::array<char, 16384> raw_{};
};

}  // namespace imapd
