// tlsrpt: sends the daily TLS reports (RFC 8460) about the mail this host
// sent to domains with an MTA-STS policy or DANE records.
//
//   tlsrpt [-d YYYY-MM-DD]
//
// remote records one line per SMTP session to such a domain in
// queue/tlsrpt/DAY/DOMAIN (mail/tls_report_log). For every day before
// today (UTC) still there, or only the day given with -d (today included,
// to report a day so far), tlsrpt looks up where each domain wants its
// reports (the TXT record at _smtp._tls.DOMAIN), builds the JSON report,
// gzips it and sends it to each destination: mailto: through inject,
// https: by POST. A domain's file is removed once every destination took
// the report, or when the domain asks for none; a report that could not
// be handed over is tried again on the next run, for a week.
//
// rspawn runs it as posternr when the first remote delivery of a UTC day
// starts; an admin may run it by hand as posternr (or root in a
// single-user instance). Exit 0 when every report went, 111 when some
// are left for a later run.
//
// Trusts the admin's control files and the records (written by remote,
// checked as they are read); trusts nothing from DNS or the network.
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "base/io.hpp"
#include "base/lock.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "base/unique.hpp"
#include "mail/address.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"
#include "mail/dns_txt.hpp"
#include "mail/status.hpp"
#include "mail/tls_report_log.hpp"
#include "report.hpp"
#include "rua.hpp"
#include "submit.hpp"

using namespace postern;
using namespace postern::tlsrpt;

namespace {

constexpr std::time_t week = 7 * 86400;

// Seconds since 1970 of the UTC day "YYYY-MM-DD" at 00:00:00, or -1.
std::time_t day_start(const std::string& day) {
  std::tm tm{};
  if (day.size() != 10 || !::strptime(day.c_str(), "%Y-%m-%d", &tm)) return -1;
  return ::timegm(&tm);
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string unique_id() {
  unsigned char rnd[8];
  randombytes_buf(rnd, sizeof rnd);
  char hex[sizeof rnd * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  return hex;
}

// Reports one domain's file; true when it is done with (sent, or nobody
// wants it, or too old to keep trying).
bool report_domain(const std::string& me, const std::string& day, std::time_t start, const std::string& domain,
                   const std::string& path, bool last_try) {
  auto text = read_regular_file(path, 256u << 20);
  if (!text) {
    log::line("unable to read {}: {}", path, std::strerror(errno));
    return last_try;
  }
  std::vector<tls_report::Session> sessions;
  long bad = 0;
  for (auto& line : split(*text, '\n')) {
    if (line.empty()) continue;
    auto s = tls_report::decode(line);
    if (s) sessions.push_back(*s);
    else ++bad;
  }
  if (bad) log::line("{}: {} line(s) that do not parse were left out", path, bad);
  if (sessions.empty()) return true;
  auto txts = dns_txt::lookup("_smtp._tls." + domain);
  if (!txts) {
    log::line("domain={} day={} status=deferred reason=\"DNS lookup of _smtp._tls.{} failed\"", domain, day, domain);
    return last_try;
  }
  auto destinations = rua_of(*txts);
  if (destinations.empty()) {
    log::line("domain={} day={} sessions={} status=none reason=\"the domain asks for no reports\"", domain, day,
              sessions.size());
    return true;
  }
  ReportInfo info{me, "postmaster@" + me, domain, start, day + "T00:00:00Z_" + domain + "_" + unique_id() + "@" + me};
  std::string gz = gzip(report_json(info, sessions));
  if (gz.empty()) {
    log::line("domain={} day={} status=deferred reason=\"zlib failed\"", domain, day);
    return last_try;
  }
  bool all_sent = true;
  for (auto& d : destinations) {
    std::string why = submit(d, info, gz);
    if (why.empty()) {
      log::line("domain={} day={} sessions={} to={} status=sent report={}", domain, day, sessions.size(),
                log::printable(d.target, 300), info.id);
    } else {
      all_sent = false;
      log::line("domain={} day={} to={} status=deferred reason=\"{}\"", domain, day, log::printable(d.target, 300),
                log::printable(why, 300));
    }
  }
  // A destination that failed gets the report again next time, and so do
  // those that took it: RFC 8460 receivers take duplicates by report-id.
  return all_sent || last_try;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("tlsrpt");
  std::string only;
  int c;
  while ((c = ::getopt(argc, argv, "d:")) != -1) {
    if (c != 'd') log::die(status::permanent, "usage: tlsrpt [-d YYYY-MM-DD]");
    only = optarg;
  }
  if (optind != argc) log::die(status::permanent, "usage: tlsrpt [-d YYYY-MM-DD]");
  if (!only.empty() && day_start(only) < 0) log::die(status::permanent, "not a day: " + only);
  if (sodium_init() < 0) log::die(status::temporary, "unable to start libsodium");
  auto me = control::line("me", host_name());
  if (!me) log::die(status::temporary, "unable to read control/me");

  std::string root = conf::path("queue/tlsrpt");
  // One tlsrpt at a time (a restarted rspawn starts another): the second
  // would send the same day twice.
  Fd lock_file(::open((root + "/.lock").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!lock_file.ok()) log::die(status::temporary, "unable to open " + root + "/.lock: " + std::strerror(errno));
  if (lock::fcntl_lock(lock_file.get(), std::chrono::seconds(0)) != lock::Result::locked) {
    log::line("another tlsrpt is running; leaving the reports to it");
    return 0;
  }
  std::time_t now = std::time(nullptr);
  std::string today = tls_report::day_dir(now).substr(root.size() + 1);
  bool left = false;
  for (auto& day : entries(root)) {
    std::time_t start = day_start(day);
    if (start < 0) continue;
    if (only.empty() ? day >= today : day != only) continue;
    std::string dir = root + "/" + day;
    bool last_try = start + week < now;
    for (auto& domain : entries(dir)) {
      if (!plain_domain_name(domain)) continue;
      std::string path = dir + "/" + domain;
      if (report_domain(*me, day, start, domain, path, last_try)) {
        if (::unlink(path.c_str()) != 0) log::line("unable to remove {}: {}", path, std::strerror(errno));
      } else {
        left = true;
      }
    }
    if (day != today) ::rmdir(dir.c_str());  // fails while files are left: they wait for the next run
  }
  return left ? status::temporary : 0;
}
