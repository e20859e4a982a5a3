// tls_link: see tls_link.hpp. Until tlsd's channel is in, there is none.
#include "tls_link.hpp"

namespace postern::smtpd {

std::unique_ptr<Tls> tls_link() { return nullptr; }

}  // namespace postern::smtpd
