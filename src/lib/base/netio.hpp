// netio: how the network daemons (smtpd, later pop3d and imapd) talk to
// their client. Every read waits at most a timeout, every line read is
// bounded, replies are buffered and flushed before the daemon waits for
// input (so pipelined commands get their replies in one write, in order).
// The bytes move through a Transport: a pair of descriptors today (a socket
// from tcpserver or inetd, or a pipe pair from sendmail -bs), and later a
// TLS process's pipes, without the protocol code knowing which.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace postern {

// Waits until fd is ready for events (POLLIN, POLLOUT), at most timeout
// seconds (0: no limit); false with errno ETIMEDOUT when none came.
bool wait_ready(int fd, short events, int timeout);

class Transport {
 public:
  virtual ~Transport() = default;
  // Reads at most n bytes, waiting at most timeout seconds. Returns the
  // count, 0 at end of input, -1 on error (errno ETIMEDOUT on timeout).
  virtual ssize_t read(char* buf, std::size_t n, int timeout) = 0;
  // Writes all of data within timeout seconds; false (errno set) otherwise.
  virtual bool write(std::string_view data, int timeout) = 0;
  // For a caller that waits on the input descriptor itself, beside other
  // descriptors (IMAP's IDLE and NOTIFY): true when a read would return
  // without waiting for it (bytes the transport holds, a deadline passed),
  // and how long such a wait may last before a read is due (timeout in
  // seconds, 0 for none, shortened to the transport's deadline).
  virtual bool pending() const { return false; }
  virtual int wait_limit(int timeout) const { return timeout; }
};

// Reads from one descriptor and writes to another (0 and 1).
class FdTransport : public Transport {
 public:
  FdTransport(int in, int out) : in_(in), out_(out) {}
  ssize_t read(char* buf, std::size_t n, int timeout) override;
  bool write(std::string_view data, int timeout) override;

 private:
  int in_, out_;
};

// Like FdTransport, but a read never takes a byte past the next '\n'
// (recv with MSG_PEEK on a socket, one byte at a time on anything else).
// A login stage reads through it so that the bytes a client pipelined
// after its login are still in the descriptor for the program that
// serves the session: every command ends with a line end, so a read that
// starts inside a command never goes past that command's end.
class LineTransport : public FdTransport {
 public:
  LineTransport(int in, int out) : FdTransport(in, out), in_(in) {}
  ssize_t read(char* buf, std::size_t n, int timeout) override;

 private:
  int in_;
  bool socket_ = true;
};

class NetIO {
 public:
  enum class Read {
    line,     // a whole line, its '\n' included
    partial,  // max bytes of a line with no '\n' yet; the rest follows
    eof,      // the client closed (a last unterminated line comes first, as partial)
    timeout,  // nothing arrived for timeout seconds
    error,    // a read or write error
  };
  NetIO(Transport& t, int timeout) : t_(t), timeout_(timeout) {}
  void set_timeout(int seconds) { timeout_ = seconds; }

  // The next line, or the next max bytes of a line longer than max.
  Read line(std::string& out, std::size_t max);
  // Up to max bytes (at least one), whatever is buffered or arrives next.
  Read some(std::string& out, std::size_t max);
  // Bytes received and not yet read: nonzero when the client pipelines.
  std::size_t buffered() const { return buf_.size() - pos_; }
  // True when the next read returns without waiting for the descriptor
  // (see Transport::pending), and the longest wait on it before a read
  // is due (Transport::wait_limit).
  bool ready() const { return buffered() > 0 || t_.pending(); }
  int wait_limit(int timeout) const { return t_.wait_limit(timeout); }
  // Drops every byte received and not yet read: at STARTTLS they were sent
  // in plaintext before the handshake and must not be taken as commands.
  void discard_input() {
    buf_.clear();
    pos_ = 0;
  }

  // Queues a reply; it goes out at flush() or before the next wait for input.
  void put(std::string_view text) { out_ += text; }
  bool flush();
  bool failed() const { return failed_; }

 private:
  Read fill();
  Transport& t_;
  int timeout_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string out_;
  bool eof_ = false;
  bool failed_ = false;
};

}  // namespace postern
