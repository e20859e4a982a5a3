// imapd-mailbox: what SEARCH, SORT and THREAD share (search.cpp,
// sort.cpp, thread.cpp): the parsed search program, its evaluation over
// the selected folder, and the text of a message's fields as the
// extensions compare them. Trusts the Session it is given (a folder is
// selected); treats the client's keys and the messages as untrusted.
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session.hpp"

namespace imapd {

struct Key {
  enum Kind {
    all, and_, or_, not_, flag_set, flag_unset, kw_set, kw_unset, recent, new_, old, header, address, body, text,
    before, on, since, sent_before, sent_on, sent_since, larger, smaller, uid, seq, saved, modseq, older, younger
  };
  Kind kind = all;
  std::uint8_t flag = 0;
  std::string a, b;
  std::time_t t = 0;
  std::uint64_t n = 0;
  SeqSet set;
  std::vector<Key> kids;
};

// How far a parse got: keys so far, and whether a bound (not the syntax)
// stopped it, and whether it named the MODSEQ key (the answer then carries
// the highest MODSEQ, RFC 7162 section 3.1.5).
struct Budget {
  std::size_t keys = 0;
  bool limit = false;
  bool modseq = false;
  bool recent = false;  // RECENT, NEW or OLD: keys IMAP4rev2 does not have
};

// The search program: "[CHARSET x] key *(SP key)" to the end of the
// command (with bare_charset, SORT's and THREAD's "x key *(SP key)"). What
// went wrong, when something did, is the full tagged reply text ("BAD ..."
// or "NO [...] ...").
struct Program {
  Key root;
  bool modseq = false;
  bool recent = false;  // names RECENT, NEW or OLD (Budget::recent)
};
// The tagged BAD text for a program an IMAP4rev2 session may not run
// (RFC 9051 6.4.4 has no RECENT, NEW or OLD); "" when it may.
std::string rev2_refusal(Session& s, const Program& prog);
std::optional<Program> parse_program(Parser& p, std::string& error, bool bare_charset = false);

// RETURN's options (RFC 4731, 5182, 5267, 9394), parsed after "RETURN"
// up to and with the space after ")".
struct Returns {
  bool esearch = false;  // answer with ESEARCH
  bool min = false, max = false, all = false, count = false, save = false;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> partial;
  bool update = false;  // CONTEXT=SEARCH (RFC 5267)
};
bool parse_returns(Parser& p, Returns& r);
// The ESEARCH answer for nums (sequence numbers or UIDs); sorted_order:
// nums are in SORT's order, kept as they are (ESORT, RFC 5267).
std::string esearch_text(const std::string& tag, bool uid, const Returns& r, const std::vector<std::uint32_t>& nums,
                         bool sorted_order, std::optional<std::uint64_t> modseq);

// The messages (indexes into sel_->msgs, in order) the program matches;
// gone messages are never matched.
struct Searcher {
  Session& s;
  std::vector<std::size_t> run(Program& prog);
  // helpers the evaluation and SORT/THREAD share
  // SEARCHRES: the result kept (as UIDs, so expunges need no bookkeeping).
  static void save(Session& s, const std::vector<std::size_t>& idx);
  static const Message* header(Session& s, Msg& m);
  static Selected& sel(Session& s) { return *s.sel_; }
  static NetIO& io(Session& s) { return s.io_; }
  static std::optional<std::time_t> internal_date(Session& s, Msg& m) { return s.internal_date(m); }
  static bool rev2(Session& s) { return s.enabled_.rev2; }
  static void enable_condstore(Session& s) { s.enabled_.condstore = true; }
  static void update(Session& s) { s.update(false); }
  static void ok(Session& s, const std::string& tag, const std::string& t) { s.ok(tag, t); }
  static void no(Session& s, const std::string& tag, const std::string& t) { s.no(tag, t); }
  static void bad(Session& s, const std::string& tag, const std::string& t) { s.bad(tag, t); }
  static const std::string& who(Session& s) { return s.who_; }
  bool eval(const Key& k, Msg& m, std::size_t seq, int need);
};

// The address list of a header value written the way Dovecot searches it:
// each mailbox as "Name <local@domain>" (names' RFC 2047 words decoded),
// groups as "group: ...;", so a key matches a display name, a comment that
// serves as one, or the address whatever comments were inside it.
std::string address_text(std::string_view value);

// The first address of an address header: its display name (decoded) and
// its local part and domain, for SORT's FROM/TO/CC and DISPLAYFROM.
struct FirstAddress {
  std::string name, local, domain;
};
std::optional<FirstAddress> first_address(std::string_view value);

// RFC 5256 section 2.1's base subject, decoded and in UTF-8; is_reply is
// set when a "Re:" or "Fwd:" or "[fwd:" was taken off.
std::string base_subject(std::string_view subject, bool* is_reply = nullptr);

// CONTEXT=SEARCH: an updating search, kept until CANCELUPDATE or the
// folder is closed; its program as parsed (sets not yet made concrete)
// and its last result as UIDs, with the folder's UIDs then (to name an
// expunged message's old sequence number).
struct SearchContext {
  std::string tag;
  bool uid = false;
  Program prog;
  std::vector<std::uint32_t> result;
  std::uint64_t fingerprint = 0;
};
struct SearchContexts {
  std::vector<SearchContext> list;
};
constexpr std::size_t max_search_contexts = 8;  // a selection's updating searches
// Registers an updating search (context.cpp); false past the bound.
bool add_context(Session& s, const std::string& tag, bool uid, const Program& prog,
                 const std::vector<std::size_t>& found);

// A sequence set as IMAP writes it, from ascending numbers.
std::string set_text(const std::vector<std::uint32_t>& sorted);

}  // namespace imapd
