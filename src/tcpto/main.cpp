// tcpto: lists, or with -c clears, remote's memory of hosts whose
// connections timed out (see tcpto.hpp). Run by root or posternr.
//
//   tcpto          one line an address: the address, when it timed out,
//                  and whether remote still skips it
//   tcpto -c [address...]   forget those addresses (all without any)
#include <cstdio>
#include <cstring>
#include <string>

#include "base/date.hpp"
#include "base/log.hpp"
#include "mail/tcpto.hpp"
#include "mail/status.hpp"

using namespace postern;

int main(int argc, char** argv) {
  log::set_program("tcpto");
  std::time_t now = std::time(nullptr);
  if (argc > 1 && std::strcmp(argv[1], "-c") == 0) {
    if (argc == 2) {
      for (auto& [address, when] : tcpto::list()) tcpto::forget(address);
    } else {
      for (int i = 2; i < argc; ++i) tcpto::forget(argv[i]);
    }
    return 0;
  }
  if (argc > 1) log::die(status::permanent, "usage: tcpto [-c [address...]]");
  for (auto& [address, when] : tcpto::list())
    std::printf("%s  timed out %s%s\n", address.c_str(), rfc5322_date(when).c_str(),
                now - when < tcpto::remember ? "  (skipped for now)" : "");
  return 0;
}
