// imap_files: the text of the small files that describe a Maildir folder
// to IMAP servers, read and written as Dovecot 2.3 and Courier write them:
// dovecot-uidlist (version 3, and version 1 which is also Courier's
// courierimapuiddb), dovecot-keywords, Courier's courierimapkeywords/:list,
// and the subscriptions file (Dovecot's version 2 and the older
// one-name-a-line form).
//
// Pure functions of bytes: they trust nothing in the text (a user, Dovecot
// or a crash may have written it) and return what they could read; a line
// they cannot read is skipped, never guessed at. See postern-maildir(5).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

struct UidRecord {
  std::uint32_t uid = 0;
  std::vector<std::string> ext;  // "W1234", "S1200", "P...": kept as read
  std::string base;              // the file name before ':'
};

struct Uidlist {
  int version = 3;
  std::uint32_t validity = 0;
  std::uint32_t next = 1;       // max(header N, last UID + 1)
  std::string guid;             // 32 hex digits, or empty
  std::string hdr_ext;          // header fields postern does not know, kept
  std::vector<UidRecord> recs;  // in UID order
  bool torn = false;            // the last line had no newline (ignored)
};

// nullopt when the header cannot be read (Dovecot then starts again with
// a new UIDVALIDITY). Records out of order, with a UID of 0 or 2^32-1 or
// a '/' in the name are skipped.
std::optional<Uidlist> parse_uidlist(std::string_view text);
// The header line (version 3) and one record line, each with '\n'.
std::string uidlist_header(const Uidlist& u);
std::string uidlist_record(const UidRecord& r);
// The value of extension key (e.g. 'W') of a record, if it has one.
std::optional<std::uint64_t> record_number(const UidRecord& r, char key);

// dovecot-keywords: "<index> <name>" a line, index 0..25 for 'a'..'z'.
std::vector<std::string> parse_keywords(std::string_view text);
std::string format_keywords(const std::vector<std::string>& kws);

// Courier's courierimapkeywords/:list: keyword names a line, a blank
// line, then "<base name>:<index> <index>..." a line.
struct CourierKeywords {
  std::vector<std::string> names;
  std::vector<std::pair<std::string, std::vector<std::uint32_t>>> msgs;
};
CourierKeywords parse_courier_keywords(std::string_view text);

// subscriptions: version 2 is "V\t2\n\n" then a name a line with '\t'
// for the hierarchy separator; version 1 is a name a line with '.'.
struct Subscriptions {
  int version = 1;
  std::vector<std::string> names;  // IMAP names, '.' the separator
};
Subscriptions parse_subscriptions(std::string_view text);
std::string format_subscriptions(const Subscriptions& s);

// A keyword or file name may go into these files: printable, no space
// for keywords, no '/', CR or LF anywhere.
bool valid_keyword(std::string_view k);

}  // namespace postern::imap
