// imap_message: see imap_message.hpp.
#include "imap/imap_message.hpp"


#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "imap/imap_envelope.hpp"

namespace postern::imap {

namespace {

constexpr int max_depth = 30;
constexpr int max_parts = 5000;

struct RawField {
  std::string_view name;
  std::string_view value;  // after the colon, continuation lines included, no final CRLF
  std::string_view whole;  // the field with its final CRLF
};

// Calls each for every field of a CRLF header (which may end with the
// blank line).
void for_each_field(std::string_view h, const std::function<void(const RawField&)>& each) {
  std::size_t i = 0;
  while (i < h.size()) {
    std::size_t start = i;
    // one field: its first line and continuation lines
    std::size_t eol;
    for (;;) {
      eol = h.find('\n', i);
      if (eol == std::string_view::npos) {
        eol = h.size();
        i = h.size();
        break;
      }
      i = eol + 1;
      if (i >= h.size() || (h[i] != ' ' && h[i] != '\t')) break;
    }
    std::string_view whole = h.substr(start, i - start);
    std::string_view line = whole;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) break;  // the blank line
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    each(RawField{name, line.substr(colon + 1), whole});
  }
}

std::string unfold(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v)
    if (c != '\r' && c != '\n') out += c;
  std::size_t a = out.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  std::size_t b = out.find_last_not_of(" \t");
  return out.substr(a, b - a + 1);
}

// "type/subtype; a=b; c="d"" or "value; a=b" (Content-Disposition).
void parse_params(std::string_view v, std::string& main, Params& params) {
  std::size_t i = 0;
  auto skip_ws = [&] {
    for (;;) {
      while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
      if (i < v.size() && v[i] == '(') {  // comment
        int depth = 0;
        while (i < v.size()) {
          if (v[i] == '\\') ++i;
          else if (v[i] == '(') ++depth;
          else if (v[i] == ')' && --depth == 0) {
            ++i;
            break;
          }
          ++i;
        }
        continue;
      }
      break;
    }
  };
  auto token = [&] {
    std::string t;
    while (i < v.size() && v[i] != ';' && v[i] != '=' && v[i] != ' ' && v[i] != '\t' && v[i] != '"' &&
           v[i] != '(')
      t += v[i++];
    return t;
  };
  skip_ws();
  main.clear();
  while (i < v.size() && v[i] != ';') {
    if (v[i] != ' ' && v[i] != '\t') main += v[i];
    ++i;
  }
  while (i < v.size() && params.size() < 50) {
    if (v[i] == ';') ++i;
    skip_ws();
    std::string name = token();
    skip_ws();
    if (i >= v.size() || v[i] != '=') {
      while (i < v.size() && v[i] != ';') ++i;
      continue;
    }
    ++i;
    skip_ws();
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        value += v[i++];
      }
      if (i < v.size()) ++i;
    } else {
      value = token();
    }
    if (!name.empty()) params.emplace_back(name, value);
    while (i < v.size() && v[i] != ';') ++i;
  }
}

std::string params_out(const Params& p) {
  if (p.empty()) return "NIL";
  std::string out = "(";
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (i) out += ' ';
    out += imap_string(p[i].first) + " " + imap_string(p[i].second);
  }
  return out + ")";
}

std::string ns(const std::optional<std::string>& s) { return s ? imap_string(*s) : std::string("NIL"); }

std::size_t count_lines(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if (c == '\n') ++n;
  return n;
}

}  // namespace

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 30 + 2);
  char prev = 0;
  for (char c : text) {
    if (c == '\n' && prev != '\r') out += '\r';
    out += c;
    prev = c;
  }
  return out;
}

std::uint64_t crlf_size(std::string_view text) {
  std::uint64_t n = text.size();
  char prev = 0;
  for (char c : text) {
    if (c == '\n' && prev != '\r') ++n;
    prev = c;
  }
  return n;
}

std::string to_lf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  return out;
}

std::string Section::name() const {
  std::string out;
  for (auto n : path) {
    if (!out.empty()) out += '.';
    out += std::to_string(n);
  }
  if (!spec.empty()) {
    if (!out.empty()) out += '.';
    out += spec;
  }
  if (spec == "HEADER.FIELDS" || spec == "HEADER.FIELDS.NOT") {
    out += " (";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) out += ' ';
      out += astring_out(fields[i]);
    }
    out += ')';
  }
  return out;
}

std::optional<Section> parse_section(Parser& p) {
  Section s;
  while (p.peek() >= '1' && p.peek() <= '9') {
    auto n = p.number();
    if (!n || *n == 0 || s.path.size() >= 50) return std::nullopt;
    s.path.push_back(*n);
    if (!p.accept('.')) {
      if (!p.accept(']')) return std::nullopt;
      return s;
    }
  }
  if (p.accept(']')) return s.path.empty() ? std::optional(s) : std::nullopt;
  auto a = p.atom();
  if (!a) return std::nullopt;
  s.spec = upper(*a);
  if (s.spec == "HEADER.FIELDS" || s.spec == "HEADER.FIELDS.NOT") {
    if (!p.sp() || !p.accept('(')) return std::nullopt;
    for (;;) {
      auto f = p.astring();
      if (!f || s.fields.size() > 200) return std::nullopt;
      s.fields.push_back(upper(*f));
      if (p.accept(')')) break;
      if (!p.sp()) return std::nullopt;
    }
  } else if (s.spec == "MIME") {
    if (s.path.empty()) return std::nullopt;
  } else if (s.spec != "HEADER" && s.spec != "TEXT") {
    return std::nullopt;
  }
  if (!p.accept(']')) return std::nullopt;
  return s;
}

Message::Message(std::string crlf_text) : text_(std::move(crlf_text)) { parse(root_, 0, text_.size(), 0, false, true); }

void Message::parse(Part& p, std::size_t begin, std::size_t end, int depth, bool digest, bool message) {
  std::string_view t = std::string_view(text_).substr(begin, end - begin);
  p.header_begin = begin;
  p.end = end;
  // The header ends after the first empty line.
  std::size_t hb = std::string_view::npos;
  if (t.starts_with("\r\n")) hb = 2;
  else if (t.starts_with("\n")) hb = 1;
  else {
    std::size_t k = t.find("\n\r\n");
    std::size_t k2 = t.find("\n\n");
    if (k != std::string_view::npos && (k2 == std::string_view::npos || k < k2)) hb = k + 3;
    else if (k2 != std::string_view::npos) hb = k2 + 2;
  }
  p.body_begin = hb == std::string_view::npos ? end : begin + hb;
  if (digest) p.type = "message", p.subtype = "rfc822";
  std::string_view header = std::string_view(text_).substr(begin, p.body_begin - begin);
  // A message (not a MIME part) whose header has neither MIME-Version nor
  // Content-Type is plain text whatever other Content-* fields say: so
  // Dovecot reads it, and BODYSTRUCTURE must agree.
  bool mime = !message;
  for_each_field(header, [&](const RawField& f) {
    mime |= iequal(f.name, "MIME-Version") || iequal(f.name, "Content-Type");
  });
  bool have_type = false;
  if (mime)
    for_each_field(header, [&](const RawField& f) {
      std::string v = unfold(f.value);
      auto set = [&](std::optional<std::string>& slot) {
        if (!slot && !v.empty()) slot = v;
      };
      if (iequal(f.name, "Content-Type") && !have_type) {
        have_type = true;
        std::string main;
        parse_params(v, main, p.params);
        auto slash = main.find('/');
        p.type = main.substr(0, slash);
        p.subtype = slash == std::string::npos || p.type.empty() ? std::string() : main.substr(slash + 1);
      } else if (iequal(f.name, "Content-Transfer-Encoding")) {
        if (!v.empty()) p.encoding = v;
      } else if (iequal(f.name, "Content-ID")) {
        set(p.id);
      } else if (iequal(f.name, "Content-Description")) {
        set(p.description);
      } else if (iequal(f.name, "Content-MD5")) {
        set(p.md5);
      } else if (iequal(f.name, "Content-Language")) {
        set(p.language);
      } else if (iequal(f.name, "Content-Location")) {
        set(p.location);
      } else if (iequal(f.name, "Content-Disposition") && p.disposition.empty()) {
        std::string main;
        parse_params(v, main, p.disposition_params);
        p.disposition = main;
      }
    });
  if (iequal(p.type, "text") &&
      std::none_of(p.params.begin(), p.params.end(), [](auto& kv) { return iequal(kv.first, "charset"); }))
    p.params.emplace_back("charset", "us-ascii");
  if (++parts_ > max_parts || depth >= max_depth) return;
  if (p.multipart()) {
    std::string boundary;
    for (auto& [k, v] : p.params)
      if (iequal(k, "boundary")) boundary = v;
    if (boundary.empty() || boundary.size() > 200) return;
    std::string delim = "--" + boundary;
    std::string_view body = std::string_view(text_).substr(p.body_begin, end - p.body_begin);
    std::size_t pos = 0;
    std::size_t part_start = std::string_view::npos;
    bool is_digest = iequal(p.subtype, "digest");
    for (;;) {
      // find a delimiter at a line start
      std::size_t k = body.find(delim, pos);
      while (k != std::string_view::npos && k != 0 && body[k - 1] != '\n') k = body.find(delim, k + 1);
      if (k == std::string_view::npos) break;
      bool close = body.substr(k + delim.size()).starts_with("--");
      std::size_t line_end = body.find('\n', k);
      std::size_t next = line_end == std::string_view::npos ? body.size() : line_end + 1;
      if (part_start != std::string_view::npos) {
        std::size_t pe = k;  // the CRLF before the delimiter belongs to it
        if (pe > part_start && body[pe - 1] == '\n') --pe;
        if (pe > part_start && body[pe - 1] == '\r') --pe;
        p.parts.emplace_back();
        parse(p.parts.back(), p.body_begin + part_start, p.body_begin + std::max(pe, part_start), depth + 1,
              is_digest, false);
        if (parts_ > max_parts) return;
      }
      if (close) {
        part_start = std::string_view::npos;
        break;
      }
      part_start = next;
      pos = next;
      if (pos >= body.size()) break;
    }
    if (part_start != std::string_view::npos && part_start <= body.size()) {  // no close delimiter
      p.parts.emplace_back();
      parse(p.parts.back(), p.body_begin + part_start, end, depth + 1, is_digest, false);
    }
    if (p.parts.empty()) {  // no parts: one empty text part, as others do
      p.parts.emplace_back();
      p.parts.back().header_begin = p.parts.back().body_begin = p.parts.back().end = end;
      p.parts.back().params.emplace_back("charset", "us-ascii");
    }
  } else if (p.rfc822()) {
    p.parts.emplace_back();
    parse(p.parts.back(), p.body_begin, end, depth + 1, false, true);
  }
}

std::optional<std::string> Message::field(std::string_view name) const {
  std::optional<std::string> out;
  for_each_field(header(), [&](const RawField& f) {
    if (!out && iequal(f.name, name)) out = unfold(f.value);
  });
  return out;
}

std::vector<std::string> Message::fields(std::string_view name) const {
  std::vector<std::string> out;
  for_each_field(header(), [&](const RawField& f) {
    if (iequal(f.name, name)) out.push_back(unfold(f.value));
  });
  return out;
}

std::string Message::envelope_of(const Part& p) const {
  return imap::envelope(range(p.header_begin, p.body_begin));
}

std::string Message::structure(const Part& p, bool ext, const Sizes* sizes) const {
  // Strings as written in the header (Dovecot keeps their case), quoted
  // or literal by Dovecot's rule (imap_string).
  auto disposition = [&] {
    return p.disposition.empty() ? std::string("NIL")
                                 : "(" + imap_string(p.disposition) + " " + params_out(p.disposition_params) + ")";
  };
  auto language = [&] {
    if (!p.language) return std::string("NIL");
    std::string out;
    std::size_t i = 0;
    const std::string& l = *p.language;
    while (i < l.size()) {
      std::size_t e = l.find_first_of(", \t", i);
      if (e == std::string::npos) e = l.size();
      if (e > i) out += (out.empty() ? "" : " ") + imap_string(l.substr(i, e - i));
      i = e + 1;
    }
    return out.empty() ? std::string("NIL") : "(" + out + ")";
  };
  std::string out = "(";
  if (p.multipart()) {
    for (auto& c : p.parts) out += structure(c, ext, sizes);
    out += " " + imap_string(p.subtype);
    if (ext) out += " " + params_out(p.params) + " " + disposition() + " " + language() + " " + ns(p.location);
    return out + ")";
  }
  std::string_view body = range(p.body_begin, p.end);
  auto [size, lines] = sizes && *sizes ? (*sizes)(p) : std::pair(body.size(), count_lines(body));
  out += imap_string(p.type) + " " + imap_string(p.subtype) + " " + params_out(p.params) + " " + ns(p.id) + " " +
         ns(p.description) + " " + imap_string(p.encoding) + " " + std::to_string(size);
  if (p.rfc822() && !p.parts.empty()) {
    out += " " + envelope_of(p.parts[0]) + " " + structure(p.parts[0], ext, sizes) + " " + std::to_string(lines);
  } else if (iequal(p.type, "text")) {
    out += " " + std::to_string(lines);
  }
  if (ext) out += " " + ns(p.md5) + " " + disposition() + " " + language() + " " + ns(p.location);
  return out + ")";
}

std::string header_fields(std::string_view h, const std::vector<std::string>& names, bool exclude) {
  std::string out;
  for_each_field(h, [&](const RawField& f) {
    bool listed = false;
    for (auto& n : names)
      if (iequal(n, f.name)) listed = true;
    if (listed != exclude) {
      out += f.whole;
      if (!out.ends_with("\n")) out += "\r\n";
    }
  });
  return out + "\r\n";
}

const Part* Message::find(const std::vector<std::uint32_t>& path) const {
  // RFC 3501 6.4.5 as Dovecot reads it: a number picks a multipart's
  // child; a part that is not multipart has only part 1 (itself), and
  // nothing below it unless it is message/rfc822; a
  // message/rfc822 with numbers still to come stands for the message it
  // holds, whose parts those numbers count.
  const Part* node = &root_;
  for (std::size_t i = 0; i < path.size(); ++i) {
    std::uint32_t k = path[i];
    bool more = i + 1 < path.size();
    if (node->multipart()) {
      if (k > node->parts.size()) return nullptr;
      node = &node->parts[k - 1];
    } else if (k != 1 || (more && !node->rfc822())) {
      return nullptr;
    }
    if (more && node->rfc822()) {
      if (node->parts.empty()) return nullptr;
      node = &node->parts[0];
    }
  }
  return node;
}

std::string Message::section(const Section& s) const {
  const Part* node = find(s.path);
  if (!node) return "";
  if (s.spec.empty()) {
    if (s.path.empty()) return text_;
    return std::string(range(node->body_begin, node->end));
  }
  if (s.spec == "MIME") return std::string(range(node->header_begin, node->body_begin));
  const Part* msg = node;
  if (!s.path.empty()) {
    if (!node->rfc822() || node->parts.empty()) return "";
    msg = &node->parts[0];
  }
  std::string_view h = range(msg->header_begin, msg->body_begin);
  if (s.spec == "HEADER") return std::string(h);
  if (s.spec == "TEXT") return std::string(range(msg->body_begin, msg->end));
  return header_fields(h, s.fields, s.spec == "HEADER.FIELDS.NOT");
}

}  // namespace postern::imap
