// Unit tests for mail/dkim_keys: which keys control/dkimkeys gives a From:
// domain, and which lines it refuses.
#include <catch2/catch.hpp>

#include "mail/dkim_keys.hpp"

using namespace postern;
using dkim_keys::for_domain;

namespace {

std::vector<std::string> names(const std::vector<dkim_keys::Key>& keys) {
  std::vector<std::string> out;
  for (auto& k : keys) out.push_back(k.domain + "/" + k.selector);
  return out;
}

}  // namespace

TEST_CASE("dkim_keys: every line of the domain, in order; subdomains only with a dot") {
  std::vector<std::string> lines = {"example.com rsa2026", "Example.COM\ted2026", ".example.com sub", "other.org x"};
  std::string why;
  auto keys = for_domain(lines, "EXAMPLE.com", why);
  REQUIRE(keys);
  CHECK(names(*keys) == std::vector<std::string>{"example.com/rsa2026", "example.com/ed2026"});
  keys = for_domain(lines, "lists.example.com", why);
  REQUIRE(keys);
  CHECK(names(*keys) == std::vector<std::string>{"example.com/sub"});
  keys = for_domain(lines, "badexample.com", why);
  REQUIRE(keys);
  CHECK(keys->empty());
  keys = for_domain(lines, "", why);
  REQUIRE(keys);
  CHECK(keys->empty());
}

TEST_CASE("dkim_keys: a line that is not two names is an error naming it") {
  std::string why;
  CHECK_FALSE(for_domain({"example.com"}, "example.com", why));
  CHECK(why.find("\"example.com\"") != std::string::npos);
  CHECK_FALSE(for_domain({"example.com a b"}, "x.org", why));
  CHECK_FALSE(for_domain({"../etc passwd"}, "x.org", why));
  CHECK_FALSE(for_domain({"example.com ../../x"}, "x.org", why));
  CHECK_FALSE(for_domain({"example.com a/b"}, "x.org", why));
  CHECK_FALSE(for_domain({"example..com a"}, "x.org", why));
}

// (key_path is not tested here: conf::path insists that the unit tests'
// conf-home exists. test_dkim finds every key where it says.)
TEST_CASE("dkim_keys: names") {
  CHECK(dkim_keys::valid_domain("a-b.example.com"));
  CHECK(dkim_keys::valid_domain("sel.2026"));
  CHECK_FALSE(dkim_keys::valid_domain(""));
  CHECK_FALSE(dkim_keys::valid_domain("."));
  CHECK_FALSE(dkim_keys::valid_domain("a."));
  CHECK_FALSE(dkim_keys::valid_domain(std::string(64, 'a') + ".com"));
}
