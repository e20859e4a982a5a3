// header: see header.hpp. The address parser reads one token at a time,
// each with its place in the input, so that rewriting an address touches
// only its own bytes. It never recurses and never backtracks, and keeps only
// the address being read, so its time grows linearly with the input and its
// memory with the longest address, however the input is formed.
#include "mail/header.hpp"

#include "base/strings.hpp"

namespace postern::header {

namespace {

bool wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The next line of text from pos, "\n" included when present.
std::string_view next_line(std::string_view text, std::size_t& pos) {
  std::size_t nl = text.find('\n', pos);
  std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
  std::string_view line = text.substr(pos, end - pos);
  pos = end;
  return line;
}

std::string_view without_newline(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return line;
}

// The separators of an address list. '@' and '.' stay inside atoms: an
// address is rebuilt by joining its tokens, so they need no token of their own.
bool special(char c) { return c == '<' || c == '>' || c == ':' || c == ';' || c == ','; }

enum class Kind { atom, quoted, literal, comment, special };

struct Token {
  Kind kind;
  std::size_t begin;
  std::size_t end;  // one past the last byte
  bool space_before;
};

// Skips a delimited run (quoted string, domain literal, comment) starting
// at s[i] == open; returns the index after its closing character, or the
// end of s when it is not closed. Backslash quotes the next byte.
std::size_t skip_delimited(std::string_view s, std::size_t i, char open, char close) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (c == close && (depth == 1 || open == close)) {
      if (open == close && depth == 0) {
        depth = 1;  // the opening quote itself
        continue;
      }
      return i + 1;
    } else if (c == close) {
      --depth;
    } else if (c == open) {
      ++depth;
    }
  }
  return s.size();
}

// The token at or after pos (white space skipped), or false at the end.
bool next_token(std::string_view s, std::size_t& pos, Token& t) {
  bool space = false;
  while (pos < s.size() && wsp(s[pos])) {
    space = true;
    ++pos;
  }
  if (pos >= s.size()) return false;
  std::size_t i = pos;
  char c = s[i];
  t = Token{Kind::atom, i, i + 1, space};
  if (c == '(') {
    t.kind = Kind::comment;
    t.end = skip_delimited(s, i, '(', ')');
  } else if (c == '"') {
    t.kind = Kind::quoted;
    t.end = skip_delimited(s, i, '"', '"');
  } else if (c == '[') {
    t.kind = Kind::literal;
    t.end = skip_delimited(s, i, '[', ']');
  } else if (special(c)) {
    t.kind = Kind::special;
  } else {
    std::size_t j = i;
    while (j < s.size() && !wsp(s[j]) && !special(s[j]) && s[j] != '(' && s[j] != '"' &&
           s[j] != '[')
      ++j;
    t.end = j;
  }
  pos = t.end;
  return true;
}

// The text of a quoted string or comment without its delimiters and
// backslashes.
std::string unquote(std::string_view s) {
  if (!s.empty()) s.remove_prefix(1);
  if (!s.empty() && (s.back() == '"' || s.back() == ')')) s.remove_suffix(1);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

// Reads an address list one token at a time, keeping only the words of the
// address being read, so memory stays proportional to one address.
class AddressParser {
 public:
  AddressParser(std::string_view s, const std::function<bool(const Mailbox&)>& each)
      : s_(s), each_(each) {}

  void run() {
    Token t;
    while (!stop_ && next_token(s_, pos_, t)) {
      if (t.kind != Kind::special) {
        word(t);
        continue;
      }
      switch (s_[t.begin]) {
        case '<': angle(t); break;
        case ',': flush(); break;
        case ';': end_group(); break;
        case ':':
          group_ = phrase_;
          clear();
          break;
        default: break;  // a stray '>'
      }
    }
    if (!stop_) flush();
  }

 private:
  std::string_view text(const Token& t) const { return s_.substr(t.begin, t.end - t.begin); }

  // A word (or comment) of the current address: it goes both into the
  // display name, should a '<' follow, and into a bare addr-spec, should not.
  void word(const Token& t) {
    if (t.kind == Kind::comment) {
      comment_ = text(t);
      return;
    }
    if (!phrase_.empty() && t.space_before) phrase_ += ' ';
    phrase_ += t.kind == Kind::quoted ? unquote(text(t)) : std::string(text(t));
    if (!any_) begin_ = t.begin;
    any_ = true;
    address_ += text(t);
    end_ = t.end;
  }

  void clear() {
    phrase_.clear();
    address_.clear();
    comment_ = {};
    any_ = false;
  }

  void emit(std::string name, std::size_t at_if_empty) {
    Mailbox m;
    m.name = std::move(name);
    m.group = group_;
    m.address = std::move(address_);
    m.begin = any_ ? begin_ : at_if_empty;
    m.end = any_ ? end_ : at_if_empty;
    clear();
    if (!each_(m)) stop_ = true;
  }

  // A bare addr-spec ended by ',' or ';' or the end of the list.
  void flush() {
    if (!any_) {
      clear();
      return;
    }
    emit(std::string(trim(unquote(comment_))), 0);
  }

  void end_group() {
    flush();
    group_.clear();
  }

  // "phrase <route:addr-spec>": the phrase has been read, t is the '<'.
  void angle(const Token& open) {
    std::string name = std::move(phrase_);
    clear();
    Token t;
    while (next_token(s_, pos_, t)) {
      if (t.kind == Kind::special && s_[t.begin] == '>') break;
      // A source route "@a,@b:" before the address is obsolete; drop it.
      if (t.kind == Kind::special && s_[t.begin] == ':') clear();
      else if (t.kind != Kind::comment) word(t);
    }
    emit(std::move(name), open.end);
    // Anything after '>' up to the next separator is not part of the address.
    while (!stop_ && next_token(s_, pos_, t)) {
      if (t.kind != Kind::special) continue;
      if (s_[t.begin] == ',') return;
      if (s_[t.begin] == ';') return end_group();
    }
  }

  std::string_view s_;
  const std::function<bool(const Mailbox&)>& each_;
  std::size_t pos_ = 0;
  bool stop_ = false;
  std::string group_;
  std::string phrase_;         // the words so far, as a display name
  std::string address_;        // the same words joined, as an addr-spec
  std::string_view comment_;   // the last comment among them
  bool any_ = false;
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace

bool is_field_start(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':') ++i;
  if (i == 0) return false;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

bool is_blank(std::string_view line) {
  for (char c : line)
    if (!wsp(c)) return false;
  return true;
}

bool is_continuation(std::string_view line) {
  return !line.empty() && (line[0] == ' ' || line[0] == '\t') && !is_blank(line);
}

std::vector<Field> parse(std::string_view text) {
  std::vector<Field> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::string_view line = without_newline(next_line(text, pos));
    if (is_field_start(line)) {
      std::size_t colon = line.find(':');
      std::size_t name_end = 0;
      while (name_end < colon && line[name_end] != ' ' && line[name_end] != '\t') ++name_end;
      out.push_back({std::string(line.substr(0, name_end)), std::string(line.substr(colon + 1))});
    } else if (is_continuation(line) && !out.empty()) {
      out.back().value += '\n';
      out.back().value += line;
    }
  }
  return out;
}

Message split_message(std::string_view message) {
  std::size_t pos = 0;
  bool any = false;
  while (pos < message.size()) {
    std::size_t start = pos;
    std::string_view line = next_line(message, pos);
    if (is_blank(line)) return {parse(message.substr(0, start)), message.substr(pos)};
    if (is_field_start(line) || (any && is_continuation(line))) {
      any = true;
      continue;
    }
    return {parse(message.substr(0, start)), message.substr(start)};
  }
  return {parse(message), message.substr(message.size())};
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const Field* find(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (same_name(f.name, name)) return &f;
  return nullptr;
}

std::vector<const Field*> find_all(const std::vector<Field>& fields, std::string_view name) {
  std::vector<const Field*> out;
  for (const auto& f : fields)
    if (same_name(f.name, name)) out.push_back(&f);
  return out;
}

std::string unfold(std::string_view value) {
  std::string out;
  for (char c : value)
    if (c != '\n' && c != '\r') out += c;
  return std::string(trim(out));
}

void for_each_mailbox(std::string_view value, const std::function<bool(const Mailbox&)>& each) {
  AddressParser(value, each).run();
}

std::vector<Mailbox> parse_address_list(std::string_view value) {
  std::vector<Mailbox> out;
  for_each_mailbox(value, [&](const Mailbox& m) {
    out.push_back(m);
    return true;
  });
  return out;
}

std::string rewrite_addresses(std::string_view value,
                              const std::function<std::string(const std::string&)>& change) {
  std::string out;
  std::size_t done = 0;
  for_each_mailbox(value, [&](const Mailbox& m) {
    std::string now = change(m.address);
    if (now == m.address || m.begin < done) return true;
    out.append(value.substr(done, m.begin - done));
    out += now;
    done = m.end;
    return true;
  });
  out.append(value.substr(done));
  return out;
}

}  // namespace postern::header
