// biff: tells comsat(8) that mail has arrived, as BSD's mail.local and
// Postfix's local (biff = yes) do: one UDP datagram "user@offset:path" (the
// offset of the new message in the mbox, 0 for a Maildir file, whose path
// is sent) to the host and port in control/biff. comsat decides whom to
// tell (the user's terminals with `biff y`). Trusts its arguments (the
// delivery that just made the file durable); trusts control/biff only as
// far as parsing it. Returns nothing and never blocks or fails a delivery:
// the notice is best effort, as it is everywhere.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::delivery {

struct BiffTarget {
  std::string host;  // a numeric IPv4 or IPv6 address
  std::uint16_t port = 512;
};

// control/biff's line: "localhost" (127.0.0.1), an address ("127.0.0.1",
// "::1", "[::1]"), either with ":port" (IPv6 in brackets then). nullopt
// with why set when it is none of these. No names are looked up: a DNS
// wait must not hold a delivery.
std::optional<BiffTarget> parse_biff_target(std::string_view text, std::string& why);

// The datagram: "user@offset:path", path made absolute against home.
std::string biff_message(std::string_view user, std::uint64_t offset, std::string_view path, std::string_view home);

// Reads control/biff (absent or empty: do nothing) and sends the notice
// with one non-blocking sendto. A bad control file or a failed send is
// logged, once per process.
void notify_biff(std::string_view user, std::uint64_t offset, std::string_view path, std::string_view home);

}  // namespace postern::delivery
