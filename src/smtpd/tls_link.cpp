// tls_link: see tls_link.hpp. A thin adapter: the channel does the
// protocol with tlsd; this says what failed in smtpd's log.
#include "tls_link.hpp"

#include "base/log.hpp"
#include "base/tls_channel.hpp"

namespace postern::smtpd {

namespace {

class ChannelTls : public Tls {
 public:
  explicit ChannelTls(tls::Channel c) : c_(std::move(c)) {}
  bool can_start() const override { return c_.can_start(); }
  bool active() const override { return c_.active(); }
  bool implicit() const override { return c_.implicit(); }
  bool wait_implicit(int timeout) override {
    if (c_.wait_implicit(timeout)) return true;
    log::line("no TLS session from tlsd: {}", c_.error());
    return false;
  }
  bool start(NetIO& io) override {
    if (c_.start(0, [&io] { io.discard_input(); }, 120)) return true;
    log::line("STARTTLS failed: {}", c_.error());
    return false;
  }
  std::string describe() const override { return tls::describe(c_.facts()); }

 private:
  tls::Channel c_;
};

}  // namespace

std::unique_ptr<Tls> tls_link() {
  auto c = tls::Channel::from_environment();
  if (!c) return nullptr;
  return std::make_unique<ChannelTls>(std::move(*c));
}

}  // namespace postern::smtpd
