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
#include "imap/imap_decode.hpp"
#include "imap/imap_envelope.hpp"
#include "imap/imap_fetch_data.hpp"
#include "mail/status.hpp"
#include "session.hpp"

namespace imapd {

namespace {

struct Item {
  enum Kind {
    uid, flags, internaldate, size, envelope, body, bodystructure, section, rfc822, rfc822_header, rfc822_text,
    binary, binary_size, preview, savedate, emailid, threadid, modseq
  };
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
  else if (u == "MODSEQ") items.push_back({Item::modseq, {}});
  else if (u == "INTERNALDATE") items.push_back({Item::internaldate, {}});
  else if (u == "RFC822.SIZE") items.push_back({Item::size, {}});
  else if (u == "ENVELOPE") items.push_back({Item::envelope, {}});
  else if (u == "BODYSTRUCTURE") items.push_back({Item::bodystructure, {}});
  else if (u == "RFC822") items.push_back({Item::rfc822, {}});
  else if (u == "RFC822.HEADER") items.push_back({Item::rfc822_header, {}});
  else if (u == "RFC822.TEXT") items.push_back({Item::rfc822_text, {}});
  else if (u == "BODY" && p.peek() != '[') items.push_back({Item::body, {}});
  else if (u == "BODY" || u == "BODY.PEEK" || u == "BINARY" || u == "BINARY.PEEK" || u == "BINARY.SIZE") {
    if (!p.accept('[')) return false;
    auto sec = parse_section(p);
    if (!sec) return false;
    Item it{u.starts_with("BODY") ? Item::section : u == "BINARY.SIZE" ? Item::binary_size : Item::binary, *sec};
    it.peek = u.ends_with(".PEEK");
    if (it.kind != Item::binary_size && p.accept('<')) {
      // <origin.count>, or <origin> for all from there on (Dovecot takes it)
      auto o = p.number64();
      if (!o) return false;
      std::uint64_t count = UINT64_MAX;
      if (p.accept('.')) {
        auto c = p.number64();
        if (!c || *c == 0) return false;
        count = *c;
      }
      if (!p.accept('>')) return false;
      it.partial = true;
      it.origin = *o;
      it.count = count;
    }
    items.push_back(std::move(it));
  } else if (u == "PREVIEW") {
    // RFC 8970's only modifier, LAZY: the preview is always made at once.
    std::size_t at = p.pos();
    if (p.sp() && p.accept('(')) {
      auto m = p.atom();
      if (!m || upper(*m) != "LAZY" || !p.accept(')')) return false;
    } else {
      p.set_pos(at);
    }
    items.push_back({Item::preview, {}});
  } else if (u == "SAVEDATE") {
    items.push_back({Item::savedate, {}});
  } else if (u == "EMAILID") {
    items.push_back({Item::emailid, {}});
  } else if (u == "THREADID") {
    items.push_back({Item::threadid, {}});
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
  std::string name = (i.kind == Item::binary ? "BINARY[" : "BODY[") + i.sec.name() + "]";
  if (i.partial) name += fmt::format("<{}>", i.origin);
  return name;
}

constexpr std::size_t piece = 1 << 16;

// Before a message's response is begun: why its BINARY items cannot be
// sent (an encoding this server cannot undo, or broken base64), if so.
// The decoded bytes are let go here and made again when sent, so memory
// holds one item at a time.
BinaryError binary_error(const Message& msg, const std::vector<Item>& items) {
  for (auto& i : items) {
    if (i.kind != Item::binary && i.kind != Item::binary_size) continue;
    BinaryError e = binary_of(msg, i.sec).error;
    if (e != BinaryError::none) return e;
  }
  return BinaryError::none;
}

// When the message was saved (RFC 8514): the time its Maildir name starts
// with, which delivery and APPEND both write.
std::optional<std::time_t> save_time(const Msg& m) {
  std::time_t t = 0;
  std::size_t k = 0;
  for (; k < m.name.size() && k < 12 && m.name[k] >= '0' && m.name[k] <= '9'; ++k) t = t * 10 + (m.name[k] - '0');
  if (k == 0 || k >= m.name.size() || m.name[k] != '.') return std::nullopt;
  return t;
}

// BINARY, BINARY.SIZE, PREVIEW, SAVEDATE, EMAILID, THREADID. A BINARY
// part is decoded once for its item and let go before the next, so memory
// holds the message and one item.
void put_new_item(NetIO& io, const Item& i, const Msg& m, const Message* msg) {
  switch (i.kind) {
    case Item::binary:
    case Item::binary_size: {
      Binary b = binary_of(*msg, i.sec);
      bool decoded = b.decoded;
      std::string data = std::move(b.data);
      if (i.kind == Item::binary_size) {
        io.put(fmt::format("BINARY.SIZE[{}] {}", i.sec.name(), data.size()));
        break;
      }
      if (i.partial) data = i.origin >= data.size() ? std::string() : data.substr(i.origin, i.count);
      // A literal8 (RFC 3516) when the bytes were decoded, as Dovecot
      // sends them, or when they hold a NUL, which a literal cannot.
      bool lit8 = decoded || data.find('\0') != std::string::npos;
      io.put(item_name(i) + (lit8 ? " ~" : " ") + fmt::format("{{{}}}\r\n", data.size()));
      for (std::size_t at = 0; at < data.size(); at += piece) {
        io.put(std::string_view(data).substr(at, piece));
        io.flush();
      }
      break;
    }
    case Item::preview: io.put("PREVIEW " + imap_string(preview(*msg))); break;
    case Item::savedate: {
      auto t = save_time(m);
      io.put(t ? "SAVEDATE \"" + format_date_time(*t) + "\"" : std::string("SAVEDATE NIL"));
      break;
    }
    case Item::emailid: io.put("EMAILID (" + email_id(msg->header(), m.vsize) + ")"); break;
    case Item::threadid: {
      auto t = thread_id(*msg);
      io.put(t ? "THREADID (" + *t + ")" : std::string("THREADID NIL"));
      break;
    }
    default: break;
  }
}

}  // namespace

bool Session::fetch_atts_valid(Parser& p) {
  std::vector<Item> items;
  if (!p.accept('(')) return false;
  while (!p.accept(')'))
    if (!parse_item(p, items) || (p.peek() != ')' && !p.sp())) return false;
  return !items.empty();
}

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
  std::string_view set = p.word();
  auto which = resolve(set, uid);
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
  FetchMods mods;  // CONDSTORE/QRESYNC (condstore.cpp)
  std::string why;
  if (p.sp() && !parse_fetch_modifiers(p, uid, mods, why)) return bad(tag, why);
  if (!p.eol()) return bad(tag, "Unexpected arguments");
  if (uid && std::none_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::uid; }))
    items.insert(items.begin(), Item{Item::uid, {}});
  apply_changedsince(*which, mods, set);
  if (std::any_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::modseq; })) condstore_on();
  // Once CONDSTORE is on, FLAGS come with their MODSEQ (RFC 7162 3.2).
  if ((mods.changedsince || enabled_.condstore) &&
      std::none_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::modseq; }) &&
      (mods.changedsince || std::any_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::flags; })))
    items.push_back(Item{Item::modseq, {}});
  bool need_full = false, need_header = false, need_file = false, sets_seen = false;
  for (auto& i : items) {
    if (region_of(i) != Region::none) need_file = true;
    else if (i.kind == Item::body || i.kind == Item::bodystructure || i.kind == Item::section ||
             i.kind == Item::binary || i.kind == Item::binary_size || i.kind == Item::preview) {
      if (i.kind == Item::section && i.sec.header_only()) need_header = true;
      else need_full = true;
    } else if (i.kind == Item::envelope || i.kind == Item::emailid || i.kind == Item::threadid) {
      need_header = true;
    }
    if (((i.kind == Item::section || i.kind == Item::binary) && !i.peek) || i.kind == Item::rfc822 ||
        i.kind == Item::rfc822_text)
      sets_seen = true;
  }
  if (sets_seen && !sel_->readonly &&
      std::none_of(items.begin(), items.end(), [](const Item& i) { return i.kind == Item::flags; }))
    items.push_back(Item{Item::flags, {}});
  bool failed = false, unknown_cte = false, broken = false;
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
    // RFC 3516: NO [UNKNOWN-CTE], and as Dovecot NO [PARSE] for broken
    // base64; nothing is sent for that message.
    if (BinaryError e = msg ? binary_error(*msg, items) : BinaryError::none; e != BinaryError::none) {
      (e == BinaryError::unknown_cte ? unknown_cte : broken) = true;
      continue;
    }
    CrlfFile file;
    if (need_file && !file.open(path_of(m))) {
      refresh_names();
      if (!file.open(path_of(m))) {
        failed = true;
        continue;
      }
    }
    if (sets_seen && !sel_->readonly && !(m.flags.sys & f_seen)) mark_seen(m);
    io_.put(fmt::format("* {} FETCH (", idx + 1));
    bool first = true, flags_sent = false;
    std::optional<std::string> envelope, body, structure;
    for (auto& i : items) {
      if (i.kind == Item::flags && flags_sent) continue;
      if (!first) io_.put(" ");
      first = false;
      switch (i.kind) {
        case Item::uid: io_.put(fmt::format("UID {}", m.uid)); break;
        case Item::modseq: io_.put(fmt::format("MODSEQ ({})", m.modseq)); break;
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
        case Item::binary:
        case Item::binary_size:
        case Item::preview:
        case Item::savedate:
        case Item::emailid:
        case Item::threadid: put_new_item(io_, i, m, msg); break;
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
  if (unknown_cte) {
    update(false);
    log::line("{}: FETCH BINARY of a part with an unknown Content-Transfer-Encoding", who_);
    return no(tag, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
  }
  if (broken) {
    update(false);
    log::line("{}: FETCH BINARY of a part whose base64 is broken", who_);
    return no(tag, "[PARSE] Invalid data in MIME part");
  }
  if (failed) return fetch_failed(tag, uid);
  if (uid) update(true);
  ok(tag, uid ? "UID FETCH completed" : "FETCH completed");
}

}  // namespace imapd
