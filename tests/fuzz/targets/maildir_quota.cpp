// Fuzz target: Maildir++ quota text (src/lib/mail/maildir_quota and
// quota_limits): a maildirsize file, which its owner can write anything
// into and every mailbox program reads, and a control/quotas line.
// Input: any bytes. Checks that a sound file never sums below zero, that
// a definition read back writes the same limits, and that a quotas line
// that parses survives format_line.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/maildir_quota.hpp"
#include "mail/quota_limits.hpp"

using namespace postern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto f = maildir_quota::parse_file(in);
  if (f.sound) FUZZ_CHECK(f.usage.bytes >= 0 && f.usage.messages >= 0, in);
  auto nl = in.find('\n');
  if (auto l = maildir_quota::parse_definition(in.substr(0, nl))) {
    auto again = maildir_quota::parse_definition(maildir_quota::definition(*l));
    FUZZ_CHECK(again && *again == *l, in);
  }
  if (auto e = quota_limits::parse_line(in)) {
    auto again = quota_limits::parse_line(quota_limits::format_line(*e));
    FUZZ_CHECK(again && again->name == e->name && again->limits == e->limits, in);
  }
  if (auto s = quota_limits::parse_storage(in)) FUZZ_CHECK(*s <= (std::uint64_t{1} << 50), in);
  return 0;
}
