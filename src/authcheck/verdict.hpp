// verdict: what the checks found, written as one Authentication-Results
// field (RFC 8601), and what the administrator's control/authpolicy says
// to do about it. The names in the results (domains, selectors, the
// sender) come from the message and the client: they are made safe for a
// header field here, never trusted to be.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "dkim_verify.hpp"
#include "dmarc.hpp"
#include "spf.hpp"

namespace postern::authcheck {

struct Results {
  std::string sender;      // MAIL FROM; "" for a bounce
  std::string helo;        // the HELO name
  SpfResult spf_mailfrom;  // when the sender is not empty
  SpfResult spf_helo;
  std::vector<DkimResult> dkim;
  DmarcResult dmarc;
};

// "Authentication-Results: authserv_id;\n\tspf=...;\n\tdkim=...\n", every
// method on its own folded line.
std::string authentication_results(const std::string& authserv_id, const Results& r);

// The one DKIM result a policy looks at: pass when any signature passed,
// then temperror, fail, permerror in that order; none without signatures.
std::string dkim_summary(const std::vector<DkimResult>& dkim);
// The SPF result of the identity DMARC uses: MAIL FROM's, or HELO's for a
// bounce.
const SpfResult& spf_used(const Results& r);

// head (header text, LF line ends, as queued) without the
// Authentication-Results fields that claim to be authserv_id's (RFC 8601
// 5: a receiver removes those a sender forged); every other byte kept.
std::string without_forged_results(const std::string& head, const std::string& authserv_id);

// In order of strictness: when several rules match, the strictest acts.
enum class Action { header, quarantine, reject };

// control/authpolicy: "METHOD=RESULT ACTION" a line, e.g. "spf=fail
// reject", "dmarc=reject reject", "dmarc=quarantine quarantine".
struct Rule {
  std::string key;  // "spf=fail", "dkim=fail", "dmarc=reject", ...
  Action action;
};
// nullopt, with why naming the line, for a line that is not a known key
// and action.
std::optional<std::vector<Rule>> parse_policy(const std::vector<std::string>& lines, std::string& why);

struct Decision {
  Action action = Action::header;
  std::string key;    // the rule that decided ("" for the default)
  std::string reply;  // for reject: the SMTP reply, "550 5.7.23 ..."
};
Decision decide(const std::vector<Rule>& policy, const Results& r);

}  // namespace postern::authcheck
