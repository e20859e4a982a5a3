// Unit tests for src/lib/local_domains: which recipients are local, by
// control/locals and control/virtualdomains, and the local part getpw sees.
#include <catch2/catch.hpp>

#include "mail/local_domains.hpp"

using namespace postern;

TEST_CASE("local domains: locals and virtualdomains") {
  LocalDomains d;
  d.me = "mx.example";
  d.locals = {"mx.example", "example.org"};
  d.virtualdomains = {{"virt.example", "v"}, {".sub.example", "s"}, {"no@virt.example", ""}};
  CHECK(d.local_part("Joe@Example.ORG") == std::optional<std::string>("joe"));
  CHECK(d.local_part("joe") == std::optional<std::string>("joe"));
  CHECK(d.local_part("joe@virt.example") == std::optional<std::string>("v-joe"));
  CHECK(d.local_part("no@virt.example") == std::nullopt);
  CHECK(d.local_part("joe@a.sub.example") == std::optional<std::string>("s-joe"));
  CHECK(d.local_part("joe@elsewhere.example") == std::nullopt);
}
