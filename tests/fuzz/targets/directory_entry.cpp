// Fuzz target: a user directory entry as the directory returns it, checked
// by mail_entry_from (src/lib/directory/mail_directory). Input: lines
// "attribute: value" (the first line is the DN). Checks that an entry taken
// is an alias or an account or a mail host, that a home is an absolute
// path, and that forwarding addresses have a domain and no control bytes.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/strings.hpp"
#include "common.hpp"
#include "directory/mail_directory.hpp"

using namespace postern;
using namespace postern::directory;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  LdapEntry e;
  bool first = true;
  for (auto& line : split(in, '\n')) {
    if (first) {
      e.dn = std::string(line);
      first = false;
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto& list = e.values[lower(line.substr(0, colon))];
    if (list.size() < max_values) list.emplace_back(line.substr(colon + 1));
  }
  std::string why;
  auto m = mail_entry_from(e, why);
  if (!m) {
    FUZZ_CHECK(!why.empty(), in);
    return 0;
  }
  FUZZ_CHECK(m->alias() || (m->uid && m->gid && !m->home.empty()) || !m->mailhost.empty(), in);
  FUZZ_CHECK(m->home.empty() || m->home[0] == '/', in);
  FUZZ_CHECK(!has_control(m->home) && !has_control(m->mailhost), in);
  for (auto& f : m->forward) FUZZ_CHECK(!has_control(f) && f.find('@') != std::string::npos, in);
  return 0;
}
