// compress: see compress.hpp. Also the COMPRESS command (RFC 4978 3):
// "tag COMPRESS DEFLATE", answered OK in clear, compressed from the next
// byte on; a second one is NO [COMPRESSIONACTIVE].
#include "compress.hpp"

#include <cerrno>

#include "base/log.hpp"
#include "session.hpp"

namespace imapd {

CompressTransport::~CompressTransport() {
  if (on_) {
    inflateEnd(&in_);
    deflateEnd(&out_);
  }
}

bool CompressTransport::start() {
  if (on_) return true;
  // Raw deflate (negative window bits), as RFC 4978 asks: no zlib header.
  if (inflateInit2(&in_, -15) != Z_OK) return false;
  if (deflateInit2(&out_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    inflateEnd(&in_);
    return false;
  }
  on_ = true;
  return true;
}

ssize_t CompressTransport::read(char* buf, std::size_t n, int timeout) {
  if (!on_) return inner_.read(buf, n, timeout);
  if (n == 0) return 0;
  for (;;) {
    if (ended_) return 0;
    if (in_.avail_in == 0 && !more_out_) {
      ssize_t r = inner_.read(raw_.data(), raw_.size(), timeout);
      if (r <= 0) return r;
      in_.next_in = reinterpret_cast<Bytef*>(raw_.data());
      in_.avail_in = static_cast<uInt>(r);
    }
    in_.next_out = reinterpret_cast<Bytef*>(buf);
    in_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1 << 20));
    uInt asked = in_.avail_out;
    int z = inflate(&in_, Z_SYNC_FLUSH);
    if (z == Z_STREAM_END) ended_ = true;
    else if (z != Z_OK && z != Z_BUF_ERROR) {
      errno = EPROTO;
      return -1;
    }
    std::size_t got = asked - in_.avail_out;
    more_out_ = in_.avail_out == 0;
    if (got > 0) return static_cast<ssize_t>(got);
    if (z == Z_BUF_ERROR && in_.avail_in > 0) {  // no progress with input left: cannot happen with room to write
      errno = EPROTO;
      return -1;
    }
  }
}

bool CompressTransport::write(std::string_view data, int timeout) {
  if (!on_) return inner_.write(data, timeout);
  out_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  out_.avail_in = static_cast<uInt>(data.size());
  std::array<char, 16384> chunk;
  do {
    out_.next_out = reinterpret_cast<Bytef*>(chunk.data());
    out_.avail_out = static_cast<uInt>(chunk.size());
    if (deflate(&out_, Z_SYNC_FLUSH) == Z_STREAM_ERROR) {
      errno = EPROTO;
      return false;
    }
    std::size_t have = chunk.size() - out_.avail_out;
    if (have > 0 && !inner_.write(std::string_view(chunk.data(), have), timeout)) return false;
  } while (out_.avail_out == 0 || out_.avail_in > 0);
  return true;
}

void Session::cmd_compress(Cmd& c) {
  auto mech = c.p.sp() ? c.p.atom() : std::nullopt;
  if (!mech || !c.p.eol()) return bad(c.tag, "Usage: COMPRESS DEFLATE");
  if (!compress_) return no(c.tag, "Compression is not available");
  if (compress_->active()) return no(c.tag, "[COMPRESSIONACTIVE] DEFLATE is already active");
  if (upper(*mech) != "DEFLATE") return no(c.tag, "Unknown compression mechanism");
  // The client waits for this OK before it compresses (RFC 4978 3):
  // anything sent after COMPRESS in clear is a client error.
  if (io_.buffered() > 0) return bad(c.tag, "Commands sent after COMPRESS before its reply");
  ok(c.tag, "DEFLATE active");
  if (!io_.flush()) return;
  if (!compress_->start()) {
    log::line("{}: cannot start zlib for COMPRESS", who_);
    bye("[UNAVAILABLE] compression failed", "zlib would not start");
  }
  log::line("{}: COMPRESS DEFLATE", who_);
}

}  // namespace imapd
