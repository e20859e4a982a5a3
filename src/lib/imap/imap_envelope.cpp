// imap_envelope: see imap_envelope.hpp. The address parser reads RFC 5322
// with the leniency real mail needs, and where a list is malformed it
// answers as Dovecot does (compared with Dovecot 2.3 case by case), since
// clients cache ENVELOPE and a server swapped in must not change it.
#include "imap/imap_envelope.hpp"

#include <fmt/format.h>

#include "imap/imap_parse.hpp"

namespace postern::imap {

namespace {

constexpr std::size_t max_addresses = 10000;

struct Token {
  enum Kind { word, quoted, comment, special } kind;
  std::string text;  // a special's character; a comment's or quoted string's content
  bool space_before = false;
};

// Splits a header value into RFC 5322 lexical tokens. Atoms keep dots
// (obs-phrase and dot-atom alike); a domain literal is one word.
std::vector<Token> tokenize(std::string_view v) {
  std::vector<Token> out;
  bool space = false;
  std::size_t i = 0;
  while (i < v.size() && out.size() < max_addresses * 8) {
    char c = v[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      ++i;
    } else if (c == '"') {
      std::string t;
      for (++i; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        if (v[i] != '\r' && v[i] != '\n') t += v[i];
      }
      ++i;
      out.push_back({Token::quoted, std::move(t), space});
      space = false;
    } else if (c == '(') {
      std::string t;
      int depth = 1;
      for (++i; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) {
          t += v[++i];
          continue;
        }
        if (v[i] == '(') ++depth;
        if (v[i] == ')' && --depth == 0) break;
        if (v[i] != '\r' && v[i] != '\n') t += v[i];
      }
      ++i;
      out.push_back({Token::comment, std::move(t), space});
      space = true;  // a comment separates words as white space does
    } else if (c == '[') {
      std::size_t e = v.find(']', i);
      e = e == std::string_view::npos ? v.size() : e + 1;
      out.push_back({Token::word, std::string(v.substr(i, e - i)), space});
      i = e;
      space = false;
    } else if (c == '<' || c == '>' || c == '@' || c == ':' || c == ';' || c == ',' || c == ')') {
      out.push_back({Token::special, std::string(1, c), space});
      ++i;
      space = false;
    } else {
      std::string t;
      while (i < v.size() && std::string_view(" \t\r\n\"(<>@:;,[)").find(v[i]) == std::string_view::npos)
        t += v[i++];
      out.push_back({Token::word, std::move(t), space});
      space = false;
    }
  }
  return out;
}

bool is(const Token& t, char c) { return t.kind == Token::special && t.text[0] == c; }

struct Reader {
  const std::vector<Token>& t;
  std::size_t i = 0;
  bool end() const { return i >= t.size(); }
  bool at(char c) const { return !end() && is(t[i], c); }
};

// A display name or group name: its words joined by one space; dots in
// atoms stay as written. Comments are left out.
std::string phrase(const std::vector<Token>& t, std::size_t a, std::size_t b) {
  std::string out;
  for (std::size_t k = a; k < b; ++k) {
    if (t[k].kind != Token::word && t[k].kind != Token::quoted) continue;
    if (!out.empty() && t[k].space_before) out += ' ';
    out += t[k].text;
  }
  return out;
}

// local-part "@" domain within [a, b): mailbox and domain, each unset when
// missing or malformed (the caller fills the placeholders).
void addr_spec(const std::vector<Token>& t, std::size_t a, std::size_t b, Address& out) {
  std::size_t at = b;
  for (std::size_t k = a; k < b; ++k)
    if (is(t[k], '@')) {
      at = k;
      break;
    }
  std::string local, domain;
  for (std::size_t k = a; k < at; ++k)
    if (t[k].kind == Token::word || t[k].kind == Token::quoted) local += t[k].text;
  if (at < b)
    for (std::size_t k = at + 1; k < b; ++k) {
      if (t[k].kind == Token::word) domain += t[k].text;
      else if (t[k].kind != Token::comment) break;
    }
  if (!local.empty()) out.mailbox = local;
  if (!domain.empty() && domain.back() != '.') out.domain = domain;
}

void fill_missing(Address& a) {
  if (!a.mailbox) a.mailbox = "MISSING_MAILBOX";
  if (!a.domain) a.domain = "MISSING_DOMAIN";
}

// One mailbox in tokens [a, b) (b: the ',' or ';' that ends it, or the end).
Address mailbox(const std::vector<Token>& t, std::size_t a, std::size_t b) {
  Address out;
  std::size_t lt = b;
  for (std::size_t k = a; k < b; ++k)
    if (is(t[k], '<')) {
      lt = k;
      break;
    }
  if (lt < b) {  // [phrase] "<" [route ":"] addr-spec ">"
    std::string name = phrase(t, a, lt);
    if (!name.empty()) out.name = name;
    std::size_t gt = lt + 1;
    while (gt < b && !is(t[gt], '>')) ++gt;
    std::size_t s = lt + 1;
    if (s < gt && is(t[s], '@')) {
      std::size_t colon = s;
      while (colon < gt && !is(t[colon], ':')) ++colon;
      std::string route;
      for (std::size_t k = s; k < colon; ++k) {
        if (!is(t[k], '@') || k + 1 >= colon || t[k + 1].kind != Token::word) continue;
        if (!route.empty()) route += ',';
        route += "@" + t[k + 1].text;
      }
      if (!route.empty()) out.route = route;
      s = colon < gt ? colon + 1 : gt;
    }
    addr_spec(t, s, gt, out);
    if (gt >= b && out.mailbox) out.domain = "SYNTAX_ERROR";  // "<a@b" never closed: as Dovecot
    fill_missing(out);
    return out;
  }
  // addr-spec [comment]: the last comment names the mailbox. Words before
  // the "@" that white space separates, or no "@" and a quoted string or
  // several words, are a name without an address.
  std::size_t at = b, words = 0;
  bool any_quoted = false, spaced = false;
  for (std::size_t k = a; k < b; ++k) {
    if (is(t[k], '@')) {
      at = k;
      break;
    }
    if (t[k].kind == Token::word || t[k].kind == Token::quoted) {
      if (words++ && t[k].space_before) spaced = true;
      any_quoted |= t[k].kind == Token::quoted;
    }
  }
  if (spaced || (at == b && any_quoted)) {
    std::string name = phrase(t, a, b);
    if (!name.empty()) out.name = name;
    fill_missing(out);
    return out;
  }
  addr_spec(t, a, b, out);
  bool seen_word = false;  // only a comment after the address names it
  for (std::size_t k = a; k < b && out.mailbox; ++k) {
    if (t[k].kind == Token::comment && seen_word) out.name = t[k].text;
    seen_word |= t[k].kind != Token::comment;
  }
  if (out.name && out.name->empty()) out.name.reset();
  fill_missing(out);
  return out;
}

// Where the item starting at a ends: the next ',' (or ';' inside a group)
// outside angle brackets.
std::size_t item_end(const std::vector<Token>& t, std::size_t a, bool in_group) {
  bool angle = false;
  for (std::size_t k = a; k < t.size(); ++k) {
    if (is(t[k], '<')) angle = true;
    else if (is(t[k], '>')) angle = false;
    else if (!angle && (is(t[k], ',') || (in_group && is(t[k], ';')))) return k;
  }
  return t.size();
}

// A group starts here when a ':' comes before any '<', '@', ',' or ';'.
std::size_t group_colon(const std::vector<Token>& t, std::size_t a) {
  for (std::size_t k = a; k < t.size(); ++k) {
    if (is(t[k], ':')) return k;
    if (is(t[k], '<') || is(t[k], '@') || is(t[k], ',') || is(t[k], ';')) break;
  }
  return std::string::npos;
}

std::string quoted_form(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string nstr(const std::optional<std::string>& s) { return s ? imap_string(*s) : std::string("NIL"); }

// A header field's value as Dovecot keeps it: white space after the colon
// dropped, line breaks of folding removed, everything else as written.
std::string field_value(std::string_view v) {
  std::size_t a = 0;
  while (a < v.size() && (v[a] == ' ' || v[a] == '\t')) ++a;
  std::string out;
  for (std::size_t k = a; k < v.size(); ++k)
    if (v[k] != '\r' && v[k] != '\n') out += v[k];
  return out;
}

}  // namespace

std::vector<Address> parse_addresses(std::string_view value) {
  std::vector<Token> t = tokenize(value);
  std::vector<Address> out;
  std::size_t i = 0;
  while (i < t.size() && out.size() < max_addresses) {
    std::size_t colon = group_colon(t, i);
    if (colon != std::string::npos) {
      Address g;
      g.mailbox = phrase(t, i, colon);
      out.push_back(std::move(g));
      i = colon + 1;
      while (i < t.size() && !is(t[i], ';') && out.size() < max_addresses) {
        std::size_t e = item_end(t, i, true);
        bool blank = true;
        for (std::size_t k = i; k < e; ++k) blank &= t[k].kind == Token::comment;
        if (!blank) out.push_back(mailbox(t, i, e));
        i = e < t.size() && is(t[e], ',') ? e + 1 : e;
      }
      out.push_back(Address{});
      while (i < t.size() && !is(t[i], ',')) ++i;  // the ';' and anything after it
      if (i < t.size()) ++i;
      continue;
    }
    std::size_t e = item_end(t, i, false);
    out.push_back(mailbox(t, i, e));
    std::size_t semi = i;
    while (semi < e && !is(t[semi], ';')) ++semi;
    if (semi < e) break;  // "a@b;c@d": what follows a stray ';' is not read
    i = e < t.size() ? e + 1 : e;
  }
  return out;
}

std::string address_list_out(const std::vector<Address>& list) {
  if (list.empty()) return "NIL";
  std::string out = "(";
  for (auto& a : list) {
    out += '(';
    out += a.name ? imap_human(*a.name) : std::string("NIL");
    out += ' ' + nstr(a.route) + ' ' + nstr(a.mailbox) + ' ' + nstr(a.domain) + ')';
  }
  return out + ')';
}

std::string imap_string(std::string_view s) {
  int escapes = 0;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == '\r' || u == '\n' || u == 0 || u >= 0x80 || ((c == '"' || c == '\\') && ++escapes > 4))
      return fmt::format("{{{}}}\r\n", s.size()) + std::string(s);
  }
  return quoted_form(s);
}

std::string imap_human(std::string_view s) {
  std::string t;
  bool special = false, lwsp = true;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') continue;
    if (c == ' ' || c == '\t') {
      if (!lwsp) t += ' ';
      lwsp = true;
      continue;
    }
    lwsp = false;
    if (c == '"' || c == '\\' || u >= 0x80 || u == 0) special = true;
    t += u == 0 ? '\x80' : c;
  }
  if (!t.empty() && t.back() == ' ') t.pop_back();
  if (!special && t == s) return "\"" + t + "\"";
  if (t.empty()) return "\"\"";
  return fmt::format("{{{}}}\r\n", t.size()) + t;
}

std::string envelope(std::string_view header) {
  std::optional<std::string> date, subject, in_reply_to, message_id;
  std::vector<Address> from, sender, reply_to, to, cc, bcc;
  std::size_t i = 0;
  while (i < header.size()) {
    std::size_t start = i;
    for (;;) {  // one field: its first line and continuation lines
      std::size_t eol = header.find('\n', i);
      i = eol == std::string_view::npos ? header.size() : eol + 1;
      if (i >= header.size() || (header[i] != ' ' && header[i] != '\t')) break;
    }
    std::string_view f = header.substr(start, i - start);
    if (f == "\r\n" || f == "\n") break;
    std::size_t colon = f.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = f.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    std::string v = field_value(f.substr(colon + 1));
    auto add = [&](std::vector<Address>& list) {
      auto more = parse_addresses(v);
      if (list.size() + more.size() <= max_addresses) list.insert(list.end(), more.begin(), more.end());
    };
    if (iequal(name, "Date")) date = v;
    else if (iequal(name, "Subject")) subject = v;
    else if (iequal(name, "In-Reply-To")) in_reply_to = v;
    else if (iequal(name, "Message-ID")) message_id = v;
    else if (iequal(name, "From")) add(from);
    else if (iequal(name, "Sender")) add(sender);
    else if (iequal(name, "Reply-To")) add(reply_to);
    else if (iequal(name, "To")) add(to);
    else if (iequal(name, "Cc")) add(cc);
    else if (iequal(name, "Bcc")) add(bcc);
  }
  std::string f = address_list_out(from);
  return "(" + nstr(date) + " " + (subject ? imap_human(*subject) : std::string("NIL")) + " " + f + " " +
         (sender.empty() ? f : address_list_out(sender)) + " " + (reply_to.empty() ? f : address_list_out(reply_to)) +
         " " + address_list_out(to) + " " + address_list_out(cc) + " " + address_list_out(bcc) + " " +
         nstr(in_reply_to) + " " + nstr(message_id) + ")";
}

}  // namespace postern::imap
