// imap_message: a stored message as IMAP FETCH sees it (RFC 3501 sections
// 6.4.5 and 7.4.2): its CRLF form, its MIME tree, ENVELOPE, BODY and
// BODYSTRUCTURE, and the text of any BODY[section]. Messages are stored
// with LF line ends (as local delivers them); IMAP counts and sends them
// with CRLF, so everything here works on the CRLF form. Input is untrusted:
// any bytes give some structure, nesting and part counts are bounded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imap/imap_parse.hpp"

namespace postern::imap {

// The CRLF form: every bare LF becomes CRLF (a CR LF stays as it is).
std::string to_crlf(std::string_view text);
// Its size without building it: the bytes plus one for each bare LF.
std::uint64_t crlf_size(std::string_view text);
// The stored (LF) form of a message given with CRLF line ends (APPEND).
std::string to_lf(std::string_view text);

using Params = std::vector<std::pair<std::string, std::string>>;

struct Part {
  std::size_t header_begin = 0, body_begin = 0, end = 0;  // offsets into the CRLF text
  std::string type = "text", subtype = "plain";
  Params params;
  std::optional<std::string> id, description, md5, language, location;
  std::string encoding = "7bit";  // as written, like type and subtype
  std::string disposition;
  Params disposition_params;
  std::vector<Part> parts;  // a multipart's parts; message/rfc822's one message
  bool multipart() const { return iequal(type, "multipart"); }
  bool rfc822() const { return iequal(type, "message") && iequal(subtype, "rfc822"); }
};

// What is inside BODY[...]: part numbers, then HEADER, HEADER.FIELDS,
// HEADER.FIELDS.NOT, TEXT, MIME or nothing.
struct Section {
  std::vector<std::uint32_t> path;
  std::string spec;                 // upper case
  std::vector<std::string> fields;  // for HEADER.FIELDS[.NOT]
  // The section as the response names it: "1.HEADER.FIELDS (FROM TO)".
  std::string name() const;
  // HEADER, HEADER.FIELDS* and the whole message need the header only.
  bool header_only() const {
    return path.empty() && (spec == "HEADER" || spec == "HEADER.FIELDS" || spec == "HEADER.FIELDS.NOT");
  }
};
// Parses the text between '[' and ']' (p is after '['; it is left after ']').
std::optional<Section> parse_section(Parser& p);

class Message {
 public:
  // text: the message with CRLF line ends. header_only: only its header is
  // known (the body was not read); body ranges are then empty.
  explicit Message(std::string crlf_text);
  const std::string& text() const { return text_; }
  const Part& root() const { return root_; }
  std::string_view header() const { return range(root_.header_begin, root_.body_begin); }
  std::string_view body() const { return range(root_.body_begin, root_.end); }

  std::string envelope() const { return envelope_of(root_); }
  std::string bodystructure(bool extended) const { return structure(root_, extended); }
  // One part's extended BODYSTRUCTURE (URLFETCH's BODYPARTSTRUCTURE);
  // sizes, when given, says each part's body size and lines instead of
  // the stored ones (those of its BINARY form).
  using Sizes = std::function<std::pair<std::size_t, std::size_t>(const Part&)>;
  std::string part_structure(const Part& p, const Sizes& sizes = nullptr) const { return structure(p, true, &sizes); }
  // The bytes of a section; empty for a part that does not exist.
  std::string section(const Section& s) const;
  // The part a section's numbers name (the root for none), or null.
  const Part* find(const std::vector<std::uint32_t>& path) const;
  // The value of the first header field called name (unfolded), if any.
  std::optional<std::string> field(std::string_view name) const;
  // Every field called name, for SEARCH HEADER.
  std::vector<std::string> fields(std::string_view name) const;

 private:
  std::string_view range(std::size_t a, std::size_t b) const {
    return std::string_view(text_).substr(a, b >= a ? b - a : 0);
  }
  // message: p is a whole message (the root, or inside message/rfc822),
  // not a MIME part.
  void parse(Part& p, std::size_t begin, std::size_t end, int depth, bool digest, bool message);
  std::string envelope_of(const Part& p) const;
  std::string structure(const Part& p, bool extended, const Sizes* sizes = nullptr) const;
  std::string text_;
  Part root_;
  int parts_ = 0;
};

// Only the header lines named (or, with exclude, all others), then the
// blank line: HEADER.FIELDS of a header in CRLF form.
std::string header_fields(std::string_view header, const std::vector<std::string>& names, bool exclude);


}  // namespace postern::imap
