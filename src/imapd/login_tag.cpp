// The one thing imapd's privileged parent (login::parent) does beyond
// pop3d's: each request packet starts with the command's tag, which
// checkpassword passes on to imapd-mailbox as IMAPLOGINTAG so that the
// mailbox stage can answer the LOGIN or AUTHENTICATE.
#include "imap/imap_parse.hpp"
#include "imapd.hpp"

using namespace postern;

namespace imapd {

std::optional<std::size_t> login_tag_prefix(std::string_view packet, std::vector<std::string>& env) {
  std::size_t nl = packet.find('\n');
  if (nl == std::string_view::npos || nl == 0 || nl > 64) return std::nullopt;
  std::string tag(packet.substr(0, nl));
  if (!imap::tag_of(tag + " x")) return std::nullopt;
  env.push_back("IMAPLOGINTAG=" + tag);
  return nl + 1;
}

}  // namespace imapd
