// submit: hands one report to one destination: a mail through inject
// (queued like any other mail from this host, and signed by dkimsign
// where DKIM is set up), or an HTTPS POST by libcurl (RFC 8460 5.4:
// application/tlsrpt+gzip, the system's CAs and control/tlsremoteca, no
// redirects, 60 s). Returns "" on success, else why.
#pragma once
#include <string>

#include "report.hpp"
#include "rua.hpp"

namespace postern::tlsrpt {

std::string submit(const Rua& to, const ReportInfo& info, const std::string& gz);

}  // namespace postern::tlsrpt
