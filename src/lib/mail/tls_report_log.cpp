// tls_report_log: see tls_report_log.hpp.
#include "mail/tls_report_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/io.hpp"
#include "base/strings.hpp"
#include "mail/address.hpp"
#include "mail/conf.hpp"

namespace postern::tls_report {

namespace {

constexpr std::size_t max_field = 300;
constexpr std::size_t max_policy_lines = 100;

std::string clean(std::string_view s) {
  std::string out(s.substr(0, max_field));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 || c == 127 || c == '|') c = ' ';
  return out;
}

bool known_type(std::string_view t) { return t == "sts" || t == "tlsa"; }

// The result types of RFC 8460 4.3, and success.
bool known_result(std::string_view r) {
  for (std::string_view k : {"success", "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                             "certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
                             "dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"})
    if (r == k) return true;
  return false;
}

}  // namespace

std::string encode(const Session& s) {
  std::string policy;
  for (std::size_t i = 0; i < s.policy.size() && i < max_policy_lines; ++i) {
    if (i) policy += '|';
    policy += clean(s.policy[i]);
  }
  return clean(s.policy_type) + "\t" + clean(s.result) + "\t" + clean(s.mx) + "\t" + clean(s.ip) + "\t" +
         clean(s.reason) + "\t" + policy;
}

std::optional<Session> decode(std::string_view line) {
  auto f = split(std::string(line), '\t');
  if (f.size() != 6) return std::nullopt;
  Session s{f[0], {}, f[1], f[2], f[3], f[4]};
  if (!known_type(s.policy_type) || !known_result(s.result)) return std::nullopt;
  for (int i = 1; i <= 4; ++i)
    if (f[static_cast<std::size_t>(i)].size() > max_field) return std::nullopt;
  if (!f[5].empty()) s.policy = split(f[5], '|');
  if (s.policy.size() > max_policy_lines) return std::nullopt;
  for (auto& p : s.policy)
    if (p.size() > max_field) return std::nullopt;
  for (char c : line)
    if ((static_cast<unsigned char>(c) < 32 && c != '\t') || c == 127) return std::nullopt;
  return s;
}

std::string day_dir(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
  return conf::path(std::string("queue/tlsrpt/") + day);
}

bool record(const std::string& domain, const Session& s, std::time_t now) {
  if (!plain_domain_name(domain)) {
    errno = EINVAL;
    return false;
  }
  std::string dir = day_dir(now);
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return false;
  Fd fd(::open((dir + "/" + domain).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.ok()) return false;
  return write_all(fd.get(), encode(s) + "\n");
}

}  // namespace postern::tls_report
