// report: one domain's daily TLS report (RFC 8460 4) from the sessions
// remote recorded: the JSON, gzip'd, and the mail that carries it (5.3).
// Trusts the sessions only as far as tls_report::decode checked them;
// every string goes into the JSON through the JSON library's escaping.
#pragma once
#include <ctime>
#include <string>
#include <vector>

#include "mail/tls_report_log.hpp"

namespace postern::tlsrpt {

struct ReportInfo {
  std::string submitter;  // this host (control/me): organization-name and the file name
  std::string contact;    // contact-info, postmaster@submitter
  std::string domain;     // policy-domain
  std::time_t start = 0;  // the UTC day: 00:00:00
  std::string id;         // report-id, unique
};

// The report's JSON text: one policy entry per distinct policy the
// sessions were under, with its success and failure counts and the
// failures grouped by result, host, address and reason.
std::string report_json(const ReportInfo& info, const std::vector<tls_report::Session>& sessions);

// gzip (RFC 1952) of data; "" only when zlib fails.
std::string gzip(const std::string& data);

// "submitter!domain!start!end!id.json.gz" (5.1).
std::string file_name(const ReportInfo& info);

// The whole message for a mailto: destination (5.3): multipart/report
// with report-type "tlsrpt", a short text part and the gzip'd JSON as an
// application/tlsrpt+gzip attachment in base64.
std::string report_mail(const ReportInfo& info, const std::string& to, const std::string& gz);

}  // namespace postern::tlsrpt
