// imapd-mailbox: FETCH (RFC 3501 section 6.4.5). Each response goes out
// item by item: BODY[], BODY[HEADER], BODY[TEXT] and RFC822* are copied
// from the message file piece by piece (imap_crlf_file), other sections
// are sent from the one parsed message as they are cut, so memory holds
// at most one message and one item, whatever the number of items or the
// size of the message. See imapd(8).
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/log.hpp"
#include "imap/imap_crlf_file.hpp"
#include "mail/status.hpp"
#include "session.hpp"

namespace imapd {

namespace {

struct Item {
  enum Kind { uid, flags, internaldate, size, envelope, body, bodystructure, section, rfc822, rfc822_header, rfc822_text };
  Kind kind;
  Section sec;
  bool peek = false;
  bool partial = false;
  std::uint64_t origin = 0, count = 0;
};

bool parse_item(Parser& p, std::vector<Item>& items) {
  std::size_t start = p.pos();
  std::string name;
  while (!p.at_end()) {
    char c = p.peek();
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.') {
      name += c;
      p.set_pos(p.pos() + 1);
    } else {
      break;
    }
  }
  (void)start;
  std::string u = upper(name);
  if (u == "ALL" || u == "FAST" || u == "FULL") {
    items.push_back({Item::flags, {}});
    items.push_back({Item::internaldate, {}});
    items.push_back({Item::size, {}});
    if (u != "FAST") items.push_back({Item::envelope, {}});
    if (u == "FULL") items.push_back({Item::body, {}});
    return true;
  }
  if (u == "UID") items.push_back({Item::uid, {}});
  else if (u == "FLAGS") items.push_back({Item::flags, {}});
  else if (u == "INTERNALDATE") items.push_back({Item::internaldate, {}});
  else if (u == "RFC822.SIZE") items.push_back({Item::size, {}});
  else if (u == "ENVELOPE") items.push_back({Item::envelope, {}});
  else if (u == "BODYSTRUCTURE") items.push_back({Item::bodystructure, {}});
  else if (u == "RFC822") items.push_back({Item::rfc822, {}});
  else if (u == "RFC822.HEADER") items.push_back({Item::rfc822_header, {}});
  else if (u == "RFC822.TEXT") items.push_back({Item::rfc822_text, {}});
  else if (u == "BODY" && p.peek() != '[') items.push_back({Item::body, {}});
  else if (u == "BODY" || u == "BODY.PEEK") {
    if (!p.accept('[')) return false;
    auto sec = parse_section(p);
    if (!sec) return false;
    Item it{Item::section, *sec};
    it.peek = u == "BODY.PEEK";
    if (p.accept('<')) {
      auto o = p.number64();
      if (!o || !p.accept('.')) return false;
      auto c = p.number64();
      if (!c || *c == 0 || !p.accept('>')) return false;
      it.partial = true;
      it.origin = *o;
      it.count = *c;
    }
    items.push_back(std::move(it));
  } else {
    return false;
  }
  return true;
}

// The part of the stored file an item sends, when it is all of the
// message, its header or its text: those are read from the file piece
// by piece instead of from a parsed copy.
enum class Region { none, whole, header, text };

Region region_of(const Item& i) {
  switch (i.kind) {
    case Item::rfc822: return Region::whole;
    case Item::rfc822_header: return Region::header;
    case Item::rfc822_text: return Region::text;
    case Item::section:
      if (!i.sec.path.empty()) return Region::none;
      if (i.sec.spec.empty()) return Region::whole;
      if (i.sec.spec == "HEADER") return Region::header;
      if (i.sec.spec == "TEXT") return Region::text;
      return Region::none;
    default: return Region::none;
  }
}

std::string item_name(const Item& i) {
  switch (i.kind) {
    case Item::rfc822: return "RFC822";
    case Item::rfc822_header: return "RFC822.HEADER";
    case Item::rfc822_text: return "RFC822.TEXT";
    default: break;
  }
  std::string name = "BODY[" + i.sec.name() + "]";
  if (i.partial) name += fmt::format("<{}>", i.origin);
  return name;
}

constexpr std::size_t piece = 1 << 16;

}  // namespace

void Session::send_literal(std::string_view data) {
  io_.put(fmt::format("{{{}}}\r\n", data.size()));
  for (std::size_t at = 0; at < data.size(); at += piece) {
    io_.put(data.substr(at, piece));
    io_.flush();
  }
}

void Session::cmd_fetch(Cmd& c) {
  Parser& p = c.p;
  const std::string& tag = c.tag;
  bool uid = c.uid;
  auto which = resolve(p.word(), uid);
  if (!which) return bad(tag, "Invalid message set");
  if (!p.sp()) return bad(tag, "Missing fetch items");
  std::vector<Item> items;
  if (p.accept('(')) {
    while (!p.accept(')')) {
      if (!parse_item(p, items)) return bad(tag, "Invalid fetch item");
      p.sp();
      if (p.at_end()) return bad(tag, "Unterminated list");
    }
  } else if (!parse_item(p, items)) {
    return bad(tag, "Invalid fetch item");
  }
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  if (uid && std::none_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::uid; }))
    items.insert(items.begin(), Item{Item::uid, {}});
  bool need_full = false, need_header = false, need_file = false, sets_seen = false;
  for (auto& i : items) {
    if (region_of(i) != Region::none) need_file = true;
    else if (i.kind == Item::body || i.kind == Item::bodystructure || i.kind == Item::section) {
      if (i.kind == Item::section && i.sec.header_only()) need_header = true;
      else need_full = true;
    } else if (i.kind == Item::envelope) {
      need_header = true;
    }
    if ((i.kind == Item::section && !i.peek) || i.kind == Item::rfc822 || i.kind == Item::rfc822_text) sets_seen = true;
  }
  if (sets_seen && !sel_->readonly &&
      std::none_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::flags; }))
    items.push_back(Item{Item::flags, {}});
  bool failed = false;
  std::size_t sent = 0;
  for (auto idx : *which) {
    Msg& m = sel_->msgs[idx];
    const Message* msg = nullptr;
    if (need_full || need_header) {
      msg = parsed(m, !need_full);
      if (!msg) {
        failed = true;
        continue;
      }
    }
    CrlfFile file;
    if (need_file && !file.open(path_of(m))) {
      refresh_names();
      if (!file.open(path_of(m))) {
        failed = true;
        continue;
      }
    }
    if (sets_seen && !sel_->readonly && !(m.flags.sys & f_seen)) {
      Flags f = m.flags;
      f.sys |= f_seen;
      set_flags(m, f);
    }
    io_.put(fmt::format("* {} FETCH (", idx + 1));
    bool first = true, flags_sent = false;
    std::optional<std::string> envelope, body, structure;
    for (auto& i : items) {
      if (i.kind == Item::flags && flags_sent) continue;
      if (!first) io_.put(" ");
      first = false;
      switch (i.kind) {
        case Item::uid: io_.put(fmt::format("UID {}", m.uid)); break;
        case Item::flags:
          io_.put("FLAGS (" + flags_text(m) + ")");
          flags_sent = true;
          break;
        case Item::internaldate: {
          auto t = internal_date(m);
          io_.put("INTERNALDATE \"" + format_date_time(t ? *t : 0) + "\"");
          break;
        }
        case Item::size: io_.put(fmt::format("RFC822.SIZE {}", m.vsize)); break;
        case Item::envelope:
          if (!envelope) envelope = msg->envelope();
          io_.put("ENVELOPE " + *envelope);
          break;
        case Item::body:
          if (!body) body = msg->bodystructure(false);
          io_.put("BODY " + *body);
          break;
        case Item::bodystructure:
          if (!structure) structure = msg->bodystructure(true);
          io_.put("BODYSTRUCTURE " + *structure);
          break;
        default: {
          io_.put(item_name(i) + " ");
          Region r = region_of(i);
          if (r == Region::none) {  // a part: cut from the parsed message
            std::string data = msg->section(i.sec);
            if (i.partial) data = i.origin >= data.size() ? std::string() : data.substr(i.origin, i.count);
            send_literal(data);
            break;
          }
          std::uint64_t from = r == Region::text ? file.header_size() : 0;
          std::uint64_t len = r == Region::header ? file.header_size() : file.size() - from;
          if (i.partial) {
            std::uint64_t o = std::min(i.origin, len);
            from += o;
            len = std::min(i.count, len - o);
          }
          io_.put(fmt::format("{{{}}}\r\n", len));
          std::uint64_t done = 0;
          file.copy(from, len, [&](std::string_view b) {
            io_.put(b);
            done += b.size();
            return io_.flush();
          });
          // A file that shrank under us: the count announced still holds.
          for (; done < len; done += std::min<std::uint64_t>(len - done, piece))
            io_.put(std::string(static_cast<std::size_t>(std::min<std::uint64_t>(len - done, piece)), ' '));
          break;
        }
      }
    }
    io_.put(")\r\n");
    if (need_file || need_full || ++sent % 256 == 0) io_.flush();
    if (io_.failed()) {
      log::line("{}: connection lost during FETCH", who_);
      std::_Exit(status::ok);
    }
  }
  if (failed) return fetch_failed(tag, uid);
  if (uid) update(true);
  ok(tag, uid ? "UID FETCH completed" : "FETCH completed");
}

}  // namespace imapd
