// Fuzz target: message headers and address lists (src/lib/mail/header),
// which inject and sendmail -t read from users' programs. Input: any
// bytes, taken both as a whole message and as one field's value. Checks
// the promises of header.hpp: the body is a view into the input; parsing a
// list one mailbox at a time gives the same list; every mailbox's place
// lies inside the value; rewriting with an unchanged address gives back
// the value byte for byte; a rewrite that changes every address still
// parses to as many mailboxes.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/header.hpp"

using namespace postern::header;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  Message m = split_message(in);
  FUZZ_CHECK(m.body.empty() || (m.body.data() >= in.data() && m.body.data() + m.body.size() <= in.data() + in.size()),
             in);
  for (auto& f : m.fields) {
    FUZZ_CHECK(!f.name.empty() && f.name.find(':') == std::string::npos, f.name);
    FUZZ_CHECK(unfold(f.value).find('\n') == std::string::npos, f.value);
    FUZZ_CHECK(is_field_start(f.text()), f.text());
  }
  for (auto& f : parse(in)) FUZZ_CHECK(!f.name.empty(), f.name);
  (void)find(m.fields, "To");
  (void)find_all(m.fields, "received");

  auto list = parse_address_list(in);
  std::size_t i = 0;
  for_each_mailbox(in, [&](const Mailbox& mb) {
    FUZZ_CHECK(i < list.size() && list[i].address == mb.address && list[i].begin == mb.begin, in);
    ++i;
    return true;
  });
  FUZZ_CHECK(i == list.size(), in);
  for (auto& mb : list) FUZZ_CHECK(mb.begin <= mb.end && mb.end <= in.size(), in);

  FUZZ_CHECK(rewrite_addresses(in, [](const std::string& a) { return a; }) == in, in);
  std::string changed = rewrite_addresses(in, [](const std::string& a) { return a.empty() ? a : a + ".x"; });
  std::size_t nonempty = 0;
  for (auto& mb : list) nonempty += !mb.address.empty();
  std::size_t after = 0;
  for (auto& mb : parse_address_list(changed)) after += !mb.address.empty();
  (void)after;  // compared below only when the list is simple enough to promise it
  if (in.find_first_of("\\\"()[]") == std::string_view::npos) FUZZ_CHECK(after == nonempty, changed);
  return 0;
}
