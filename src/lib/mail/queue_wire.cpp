// queue_wire: see queue_wire.hpp.
#include "mail/queue_wire.hpp"

#include <cstdint>

namespace postern::queue_wire {

namespace {

bool known(char t) {
  switch (static_cast<Type>(t)) {
    case Type::ready: case Type::busy: case Type::message: case Type::envelope:
    case Type::end: case Type::queued: case Type::failed:
      return true;
  }
  return false;
}

std::size_t limit(Type t) {
  switch (t) {
    case Type::message: case Type::envelope: return max_chunk;
    case Type::ready: case Type::end: return 0;
    default: return max_text;
  }
}

}  // namespace

std::string encode(Type type, std::string_view payload) {
  if (payload.size() > limit(type)) payload = payload.substr(0, limit(type));
  auto n = static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.reserve(header_size + payload.size());
  out += static_cast<char>(type);
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((n >> shift) & 0xff);
  out.append(payload);
  return out;
}

std::string encode_failure(int code, std::string_view text) {
  return encode(Type::failed, std::to_string(code) + " " + std::string(text));
}

bool decode_failure(std::string_view payload, int& code, std::string& text) {
  std::size_t sp = payload.find(' ');
  if (sp == 0 || sp == std::string_view::npos || sp > 3) return false;
  int n = 0;
  for (char c : payload.substr(0, sp)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 255) return false;
  code = n;
  text.assign(payload.substr(sp + 1));
  return true;
}

Decoder::Result Decoder::next(Frame& out) {
  std::size_t have = buf_.size() - pos_;
  if (have < header_size) {
    buf_.erase(0, pos_);
    pos_ = 0;
    return Result::more;
  }
  const char* h = buf_.data() + pos_;
  if (!known(h[0])) {
    error_ = "unknown frame type";
    return Result::bad;
  }
  std::uint32_t n = 0;
  for (int i = 1; i < 5; ++i) n = (n << 8) | static_cast<unsigned char>(h[i]);
  auto type = static_cast<Type>(h[0]);
  if (n > limit(type)) {
    error_ = "frame too long for its type";
    return Result::bad;
  }
  if (have < header_size + n) {
    buf_.erase(0, pos_);
    pos_ = 0;
    return Result::more;
  }
  out.type = type;
  out.payload.assign(buf_, pos_ + header_size, n);
  pos_ += header_size + n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return Result::frame;
}

}  // namespace postern::queue_wire
