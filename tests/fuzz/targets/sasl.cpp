// Fuzz target: smtpd's AUTH exchanges (src/lib/login/sasl): PLAIN and
// LOGIN, the client's base64 lines from the network. Input: one byte that
// picks the mechanism and whether the AUTH command carried an initial
// response, then the client's lines separated by "\n". Checks: a finished
// exchange gives a valid user name and a password within bounds with no
// NUL; a challenge is one a client expects; a cancelled or failed
// exchange leaves nothing behind; and base64 of any text without NUL
// decodes back to it.
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "login/login_request.hpp"
#include "login/sasl.hpp"

using namespace postern::login;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  unsigned char pick = data[0];
  sasl::Mech mech = pick & 1 ? sasl::Mech::login : sasl::Mech::plain;
  bool initial = pick & 2;

  sasl::Exchange e;
  auto next_line = [&in]() {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    return line;
  };
  using Kind = sasl::Exchange::Step::Kind;
  auto step = e.start(mech, initial ? std::optional<std::string_view>(next_line()) : std::nullopt);
  int rounds = 0;
  while (step.kind == Kind::challenge && !in.empty()) {
    FUZZ_CHECK(step.text.empty() || step.text == "VXNlcm5hbWU6" || step.text == "UGFzc3dvcmQ6", step.text);
    FUZZ_CHECK(++rounds <= 3, "more than three rounds");
    step = e.next(next_line());
  }
  if (step.kind == Kind::done) {
    FUZZ_CHECK(valid_user(e.user()), e.user());
    FUZZ_CHECK(!e.password().empty() && e.password().size() <= max_password, e.password());
    FUZZ_CHECK(e.password().find('\0') == std::string::npos, e.password());
  } else if (step.kind != Kind::challenge) {
    FUZZ_CHECK(e.user().empty() && e.password().empty(), "an exchange that ended kept its secrets");
  }
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text.find('\0') == std::string_view::npos && size <= 1000) {
    auto back = sasl::decode_text(sasl::encode(text), 1000);
    FUZZ_CHECK(back && *back == text, text);
  }
  return 0;
}
