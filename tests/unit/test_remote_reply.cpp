// Unit tests for remote's SMTP reply reader (read_reply in
// src/remote/session.cpp) and MX answer parser (parse_mx_answer in
// src/remote/route.cpp): what a remote server or DNS server sends is
// untrusted, and a malformed reply must read as no reply at all.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "base/netio.hpp"
#include "remote/route.hpp"
#include "remote/session.hpp"

using namespace postern;

namespace {

class Bytes : public Transport {
 public:
  explicit Bytes(std::string s) : s_(std::move(s)) {}
  ssize_t read(char* buf, std::size_t n, int) override {
    std::size_t k = std::min(n, s_.size());
    s_.copy(buf, k);
    s_.erase(0, k);
    return static_cast<ssize_t>(k);
  }
  bool write(std::string_view, int) override { return true; }

 private:
  std::string s_;
};

remote::Reply reply_of(const std::string& text) {
  Bytes b(text);
  NetIO io(b, 5);
  return remote::read_reply(io);
}

}  // namespace

TEST_CASE("a multi-line reply is read whole, with its code") {
  auto r = reply_of("250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  CHECK(r.code == 250);
  CHECK(r.lines == std::vector<std::string>{"mx.example.org", "PIPELINING", "SIZE 1000"});
  CHECK(reply_of("354\r\n").code == 354);
}

TEST_CASE("a reply without a three-digit code is malformed, not a code") {
  // Found by the smtp_reply fuzz target: "9.9" was read as code 9.
  for (const char* bad : {"9.9\r\n", "2500 ok\r\n", "25 ok\r\n", "2x0 ok\r\n", "250ok\r\n", "650 no\r\n",
                          "250-a\r\n2.0 b\r\n"}) {
    auto r = reply_of(bad);
    INFO(bad);
    CHECK(r.code == 0);
    CHECK(r.text.find("malformed") != std::string::npos);
  }
}

TEST_CASE("an MX answer gives its hosts; a truncated one is malformed") {
  // example.org MX: 10 mx.example.org (the answer name compressed to the question).
  const unsigned char answer[] = {
      0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,                        // header: 1 question, 1 answer
      7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 15, 0, 1,  // question
      0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 0, 0, 7,                               // answer: MX, ttl 256, rdlength 7
      0, 10, 2, 'M', 'X', 0xc0, 12};                                         // 10 MX.example.org
  auto mx = remote::parse_mx_answer(answer, sizeof answer);
  REQUIRE(mx);
  REQUIRE(mx->size() == 1);
  CHECK((*mx)[0].pref == 10);
  CHECK((*mx)[0].host == "mx.example.org");
  CHECK_FALSE(remote::parse_mx_answer(answer, 20));
}
