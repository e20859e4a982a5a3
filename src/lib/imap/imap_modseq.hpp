// imap_modseq: postern's own state of a folder, beside Dovecot's files, in
// postern-state (Dovecot ignores it): who has claimed \Recent, each
// message's MODSEQ, size and last known flags, the highest MODSEQ, and the
// MODSEQs at which UIDs were expunged (QRESYNC's VANISHED). The file is a
// log: a header line, then lines only appended, each a change,
//
//   P1 V<uidvalidity> H<modseq floor> [E<modseq>]   header
//                                       (E: expunges at or below it were
//                                       lost or trimmed; see history_from)
//   R<uid>                              first UID nobody has claimed as \Recent
//   M<uid> <modseq> <vsize> :<flags>    message state (info letters after ":2,")
//   X<uid> <modseq>                     expunged
//
// so a STORE costs one short append and one fdatasync, not a rewrite of a
// line per message. It is compacted (rewritten whole, fsync, rename) when
// the log is more than twice what it describes.
//
// parse_state trusts nothing: a line it cannot read is skipped; a torn
// last line (a crash mid-append) is left out and cut off by the writer.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

struct MsgState {
  std::uint64_t modseq = 0;
  std::uint64_t vsize = 0;
  std::string flags;  // the info letters, as in the file name
};

struct ModState {
  std::uint32_t validity = 0;
  std::uint64_t highest = 0;       // the largest MODSEQ ever given
  std::uint32_t recent_from = 1;   // first UID nobody claimed
  std::map<std::uint32_t, MsgState> msgs;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> expunged;  // uid, modseq
  // Every expunge with a MODSEQ above this is in expunged; those at or
  // below it may be missing (the file was lost, or the history trimmed).
  std::uint64_t history_from = 0;
  std::size_t lines = 0;           // lines read: when to compact
  std::size_t good_bytes = 0;      // length up to the end of the last whole line
};

// nullopt when the header is missing or unreadable.
std::optional<ModState> parse_state(std::string_view text);
// The whole file for a state (compaction).
std::string format_state(const ModState& s);
// One appended line each.
std::string state_msg_line(std::uint32_t uid, const MsgState& m);
std::string state_expunge_line(std::uint32_t uid, std::uint64_t modseq);
std::string state_recent_line(std::uint32_t uid);

// The info letters of a Maildir file name ("" when it has none).
std::string_view info_of(std::string_view name);

}  // namespace postern::imap
