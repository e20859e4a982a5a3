// secret: passwords and other secrets in memory. They are compared in
// constant time (libsodium) and wiped when no longer needed, so a crash
// dump or a later bug does not find them lying in freed memory.
#pragma once
#include <string>
#include <string_view>

namespace postern::secret {

// True when a and b are the same bytes. The time taken depends on the
// lengths only, never on where the bytes differ.
bool equal(std::string_view a, std::string_view b);

// Overwrites the bytes of s (sodium_memzero) and empties it.
void wipe(std::string& s);

// A string that wipes itself when it goes out of scope. Reserve before
// appending so the bytes are not copied by a reallocation.
class String {
 public:
  String() { s_.reserve(1024); }
  explicit String(std::string s) : s_(std::move(s)) {}
  String(const String&) = delete;
  String& operator=(const String&) = delete;
  ~String() { wipe(s_); }
  std::string& get() { return s_; }
  const std::string& get() const { return s_; }

 private:
  std::string s_;
};

// The lowercase hex MD5 of data: the APOP digest of timestamp + secret
// (RFC 1939). MD5 is broken for most uses; APOP has nothing better.
std::string md5_hex(std::string_view data);

}  // namespace postern::secret
