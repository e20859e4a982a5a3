// tls_link: smtpd's Tls (smtpd.hpp) over the channel to tlsd
// (base/tls_channel, tlsd(8)), found from the environment tlsd sets.
// Trusts tlsd, which runs as root's chosen TLS user; returns nullptr when
// no tlsd is in front of smtpd.
#pragma once
#include <memory>

#include "smtpd.hpp"

namespace postern::smtpd {

std::unique_ptr<Tls> tls_link();

}  // namespace postern::smtpd
