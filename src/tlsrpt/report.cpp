// report: see report.hpp.
#include "report.hpp"

#include <sodium.h>
#include <zlib.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace postern::tlsrpt {

namespace {

std::string utc(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string base64_lines(const std::string& data) {
  std::string b64(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  std::string out;
  for (std::size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\n";
  return out;
}

}  // namespace

std::string report_json(const ReportInfo& info, const std::vector<tls_report::Session>& sessions) {
  using json = nlohmann::ordered_json;
  // Sessions by policy (type and lines), then failures by their details.
  using PolicyKey = std::pair<std::string, std::vector<std::string>>;
  using FailureKey = std::tuple<std::string, std::string, std::string, std::string>;
  struct Tally {
    long success = 0, failure = 0;
    std::set<std::string> mx;
    std::map<FailureKey, long> failures;
  };
  std::map<PolicyKey, Tally> by_policy;
  for (auto& s : sessions) {
    Tally& t = by_policy[{s.policy_type, s.policy}];
    if (s.result == "success") {
      ++t.success;
    } else {
      ++t.failure;
      ++t.failures[{s.result, s.mx, s.ip, s.reason}];
    }
    if (!s.mx.empty()) t.mx.insert(s.mx);
  }
  json policies = json::array();
  for (auto& [key, t] : by_policy) {
    json policy = {{"policy-type", key.first}, {"policy-string", key.second}, {"policy-domain", info.domain}};
    json mx = json::array();
    if (key.first == "sts") {
      for (auto& line : key.second)
        if (line.compare(0, 4, "mx: ") == 0) mx.push_back(line.substr(4));
    } else {
      for (auto& m : t.mx) mx.push_back(m);
    }
    policy["mx-host"] = mx;
    json entry = {{"policy", policy},
                  {"summary", {{"total-successful-session-count", t.success}, {"total-failure-session-count", t.failure}}}};
    json details = json::array();
    for (auto& [f, count] : t.failures) {
      json d = {{"result-type", std::get<0>(f)}};
      if (!std::get<1>(f).empty()) d["receiving-mx-hostname"] = std::get<1>(f);
      if (!std::get<2>(f).empty()) d["receiving-ip"] = std::get<2>(f);
      d["failed-session-count"] = count;
      if (!std::get<3>(f).empty()) d["failure-reason-code"] = std::get<3>(f);
      details.push_back(d);
    }
    if (!details.empty()) entry["failure-details"] = details;
    policies.push_back(entry);
  }
  json report = {{"organization-name", info.submitter},
                 {"date-range", {{"start-datetime", utc(info.start)}, {"end-datetime", utc(info.start + 86399)}}},
                 {"contact-info", info.contact},
                 {"report-id", info.id},
                 {"policies", policies}};
  // Names and reasons from the network may hold any byte: replace what is
  // not UTF-8 instead of failing the whole report.
  return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return r == Z_STREAM_END ? out : "";
}

std::string file_name(const ReportInfo& info) {
  return info.submitter + "!" + info.domain + "!" + std::to_string(info.start) + "!" +
         std::to_string(info.start + 86399) + "!" + info.id.substr(0, info.id.find('@')) + ".json.gz";
}

std::string report_mail(const ReportInfo& info, const std::string& to, const std::string& gz) {
  unsigned char rnd[12];
  randombytes_buf(rnd, sizeof rnd);
  char hex[sizeof rnd * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  std::string boundary = std::string("tlsrpt-") + hex;
  std::string day = utc(info.start).substr(0, 10);
  std::string m;
  m += "From: TLS reports <" + info.contact + ">\n";
  m += "To: <" + to + ">\n";
  m += "Subject: Report Domain: " + info.domain + " Submitter: " + info.submitter + " Report-ID: <" + info.id + ">\n";
  m += "TLS-Report-Domain: " + info.domain + "\n";
  m += "TLS-Report-Submitter: " + info.submitter + "\n";
  m += "MIME-Version: 1.0\n";
  m += "Content-Type: multipart/report; report-type=\"tlsrpt\";\n\tboundary=\"" + boundary + "\"\n\n";
  m += "--" + boundary + "\n";
  m += "Content-Type: text/plain; charset=us-ascii\n\n";
  m += "This is an aggregate TLS report (RFC 8460) from " + info.submitter + " about the mail it sent to " +
       info.domain + " on " + day + " (UTC).\n\n";
  m += "--" + boundary + "\n";
  m += "Content-Type: application/tlsrpt+gzip\n";
  m += "Content-Transfer-Encoding: base64\n";
  m += "Content-Disposition: attachment;\n\tfilename=\"" + file_name(info) + "\"\n\n";
  m += base64_lines(gz);
  m += "\n--" + boundary + "--\n";
  return m;
}

}  // namespace postern::tlsrpt
