// imapd-mailbox: APPEND (RFC 3501 section 6.3.11) with MULTIAPPEND (RFC
// 3502: several messages, all stored or none), LITERAL+, literal8 ~{n}
// (RFC 3516 BINARY) and UTF8 (~{n}) (RFC 6855). A message literal never
// sits in memory: read_command hands its bytes to the AppendSpool, which
// writes them (CRLF made LF, as local stores mail) to a file in tmp/ of
// the target folder as they arrive; APPEND then links each into cur/
// with its flags, or removes them all. Every other literal, of any
// command, stays in memory only while the command it is part of stays
// within max_inline; past that its bytes are thrown away and the command
// answered NO [TOOBIG]. Either way memory stays bounded whatever the
// literals' sizes (within Limits::max_literal, APPENDLIMIT). Trusts
// nothing of the command; answers OK [APPENDUID], NO or BAD. imapd(8).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/io.hpp"
#include "base/log.hpp"
#include "imap/imap_shares.hpp"
#include "mail/maildir.hpp"
#include "session.hpp"

namespace imapd {

namespace {

// How much of a command, its literals but APPEND's messages included, may
// be held in memory.
constexpr std::uint64_t max_inline = 1 << 20;
// Bounds on one MULTIAPPEND: messages, and bytes spooled to disk.
constexpr std::size_t max_messages = 1000;
constexpr std::uint64_t max_total = std::uint64_t{1} << 30;
// Bounds on the pieces of one command (each literal is a walk over the
// command so far; each URL reads a message file).
constexpr std::size_t max_pieces = 1000;
constexpr std::size_t max_urls = 100;

// One piece of a message: a literal (where its marker ends in the
// command) or, in CATENATE, a URL.
struct Piece {
  std::size_t marker_end = 0;
  std::string url;
};

// One message of the command, as parsed.
struct Spec {
  Flags flags;
  std::vector<std::string> kws;
  std::optional<std::time_t> when;
  std::vector<Piece> pieces;
  bool utf8 = false;  // RFC 6855's UTF8 (literal8) form
};

}  // namespace

struct AppendSpool : LiteralSink {
  explicit AppendSpool(Session& session) : s(session) {}
  Session& s;
  // One message being written: its pieces go to one file in tmp/, in
  // order, literals as they arrive and URLs (CATENATE) when reached.
  struct Part {
    std::unique_ptr<maildir::Writer> writer;
    std::size_t done = 0;  // pieces written
    std::uint64_t size = 0;
    bool failed = false;
    std::string badurl;  // the first URL that named nothing
    bool cr = false;     // a CR held back: the next byte decides whether it goes
  };
  std::vector<Part> parts;  // one for each message seen so far
  std::size_t current = 0;  // the part the literal being read goes to
  std::uint64_t total = 0;
  bool discard = false;  // a literal was taken only to be thrown away
  bool missing = false;  // the target folder does not exist
  bool staged = false;   // another user's folder: written to our own tmp/ and sent to the owner's process
  bool seen = false;     // the target was looked at
  std::string folder;    // the target (canonical name)

  void reset() {
    parts.clear();  // removes uncommitted tmp/ files
    current = 0;
    total = 0;
    discard = missing = seen = staged = false;
    folder.clear();
  }

  void add(Part& part, std::string_view chunk) {
    part.size += chunk.size();
    total += chunk.size();
    if (!part.writer || part.failed) return;
    std::string lf;
    lf.reserve(chunk.size() + 1);
    for (char c : chunk) {
      if (part.cr && c != '\n') lf += '\r';
      part.cr = c == '\r';
      if (!part.cr) lf += c;
    }
    if (!part.writer->write(lf)) part.failed = true;
  }

  // Opens the target on the first message, then a file for each message
  // up to count, and writes the URL pieces before the first piece not
  // written yet that is a literal (or all, with upto_end).
  void advance(const std::string& name, std::vector<Spec>& specs, bool upto_end) {
    if (!seen) {
      seen = true;
      folder = canonical(s.mailbox_in(name));
      staged = !s.share_ && split_shared(name).has_value();
      struct stat st {};
      missing = !staged && (!valid_name(folder) || ::stat((folder_dir(s.root_, folder) + "/cur").c_str(), &st) != 0);
    }
    while (parts.size() < specs.size()) {
      Part& part = parts.emplace_back();
      if (missing) continue;
      part.writer = std::make_unique<maildir::Writer>((staged ? s.root_ : folder_dir(s.root_, folder)) + "/");
      if (!part.writer->open()) part.failed = true;
    }
    for (std::size_t i = 0; i < specs.size(); ++i) {
      Part& part = parts[i];
      auto& pieces = specs[i].pieces;
      while (part.done < pieces.size() && !pieces[part.done].url.empty()) {
        if (!missing && part.badurl.empty()) {
          auto bytes = total <= max_total ? s.url_content(pieces[part.done].url) : std::nullopt;
          if (!bytes) part.badurl = pieces[part.done].url;
          else add(part, *bytes);
        }
        ++part.done;
      }
      if (!upto_end && i + 1 == specs.size()) break;
    }
  }

  // Walks an APPEND command (text: as read so far, or whole), filling
  // specs. With at_end, true when text ends right after a marker in
  // message position (a new literal, the last piece of the last spec);
  // otherwise false, with err on bad syntax.
  bool walk(std::string_view text, bool at_end, std::vector<Spec>& specs, std::string& name, std::string& err) {
    Parser p(text);
    auto tag = p.atom();
    auto verb = tag && p.sp() ? p.atom() : std::nullopt;
    if (!verb || upper(*verb) != "APPEND" || !p.sp()) return false;
    auto box = p.astring();
    if (!box) return err = "Bad mailbox name", false;
    name = *box;
    std::size_t pieces = 0, urls = 0;
    // A literal's marker, "~" (literal8) allowed: 0 none, 1 one, 2 the new one at the end.
    auto marker = [&](Spec& m, bool& eight) -> int {
      std::size_t save = p.pos();
      eight = p.accept('~');
      if (!p.literal_marker()) return p.set_pos(save), 0;
      m.pieces.push_back({p.pos(), ""});
      return at_end && p.pos() == text.size() ? 2 : 1;
    };
    for (;;) {
      if (!p.sp()) return err = "Bad arguments", false;
      Spec& m = specs.emplace_back();
      if (p.peek() == '(') {
        auto fl = p.flag_list(false);
        if (!fl || !p.sp()) return err = "Bad flag list", false;
        for (auto& f : *fl) {
          if (std::uint8_t bit = system_flag(f)) m.flags.sys |= bit;
          else if (f[0] == '\\') return err = "Invalid flag " + log::printable(f, 40), false;
          else m.kws.push_back(f);
        }
      }
      if (p.peek() == '"') {
        auto d = p.quoted();
        if (!d || !(m.when = parse_date_time(*d)) || !p.sp()) return err = "Bad date-time", false;
      }
      bool eight = false;
      int k = marker(m, eight);
      if (k == 2) return true;
      if (k == 0) {
        auto a = p.atom();
        std::string u = a ? upper(*a) : "";
        if (u == "UTF8") {
          if (!p.sp() || !p.accept('(')) return err = "Bad UTF8 message", false;
          if (!s.enabled_.utf8) return err = "UTF8 needs ENABLE UTF8=ACCEPT", false;
          m.utf8 = true;
          k = marker(m, eight);
          if (k == 2) return true;
          if (k == 0 || !eight || !p.accept(')')) return err = "Bad UTF8 message", false;
        } else if (u == "CATENATE") {
          if (!p.sp() || !p.accept('(')) return err = "Bad CATENATE", false;
          for (;;) {
            auto w = p.atom();
            std::string wu = w ? upper(*w) : "";
            if (!p.sp()) return err = "Bad CATENATE part", false;
            if (wu == "TEXT") {
              k = marker(m, eight);
              if (k == 2) return true;
              if (k == 0) return err = "Bad CATENATE TEXT", false;
            } else if (wu == "URL") {
              auto url = p.astring();
              if (!url || url->empty()) return err = "Bad CATENATE URL", false;
              m.pieces.push_back({0, *url});
            } else {
              return err = "Bad CATENATE part", false;
            }
            if (++pieces > max_pieces || (m.pieces.back().url.size() && ++urls > max_urls))
              return err = "Too many CATENATE parts", false;
            if (p.accept(')')) break;
            if (!p.sp()) return err = "Bad CATENATE", false;
          }
        } else {
          return err = "Bad message literal", false;
        }
      }
      if (specs.size() > max_messages) return err = "Too many messages", false;
      if (p.eol()) return false;
    }
  }

  bool take(std::string_view so_far, std::uint64_t n) override {
    std::vector<Spec> specs;
    std::string err, name;
    if (discard || !walk(so_far, true, specs, name, err)) {
      if (!discard && so_far.size() + n <= max_inline) return false;
      discard = true;
      return true;
    }
    if (total + n > max_total) {
      log::line("{}: APPEND past {} bytes", s.who_, max_total);
      discard = true;
      return true;
    }
    advance(name, specs, false);
    current = specs.size() - 1;
    parts[current].done = specs.back().pieces.size();
    return true;
  }

  void write(std::string_view chunk) override {
    if (discard || current >= parts.size()) return;
    add(parts[current], chunk);
  }

  bool finish(Part& part) {
    if (part.cr && !part.failed && part.writer && !part.writer->write("\r")) part.failed = true;
    part.cr = false;
    return !part.failed && part.writer;
  }
};

Session::Session(std::string root, NetIO& io, std::string who)
    : root_(std::move(root)), io_(io), who_(std::move(who)), spool_(std::make_unique<AppendSpool>(*this)) {}

Session::~Session() = default;

bool Session::literal_discarded() const { return spool_->discard; }

LiteralSink* Session::next_spool() {
  spool_->reset();
  return spool_.get();
}

// APPEND into another user's folder: the messages, spooled into our own
// tmp/, go to the owner's process as one APPEND of literals (CATENATE's
// URLs already resolved here, in our own folders), which checks the i
// right and answers; the spool's files go when the spool is reset.
void Session::append_to_owner(const std::string& tag, const std::string& owner) {
  AppendSpool& sp = *spool_;
  std::vector<Spec> specs;
  std::string err, name;
  if (sp.walk(raw_, false, specs, name, err) || !err.empty() || specs.empty())
    return bad(tag, err.empty() ? "Bad arguments" : err);
  sp.advance(name, specs, true);
  // Sent as one command, so held whole: as much as a COPY across owners.
  if (sp.total > (256u << 20)) return no(tag, "[LIMIT] At most 256 MB are appended to another user's folder at once");
  std::string command = tag + " APPEND " + astring_out(name);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto& part = sp.parts[i];
    if (!part.badurl.empty()) return no(tag, "[BADURL " + log::printable(part.badurl, 200) + "] No such message or part");
    if (!sp.finish(part)) return no(tag, "[SERVERBUG] Cannot store the message");
    auto data = read_file(part.writer->tmp_path(), limits_.max_literal + 1);
    if (!data || data->empty()) return no(tag, "Empty message: nothing appended");
    Msg m;
    m.flags = specs[i].flags;
    std::string flags = flags_text(m);
    for (auto& k : specs[i].kws) flags += (flags.empty() ? "" : " ") + k;
    command += " (" + flags + ")";
    if (specs[i].when) command += " \"" + format_date_time(*specs[i].when) + "\"";
    command += fmt::format(" {{{}+}}\r\n", data->size()) + *data;
  }
  forward_to_owner(owner, tag, command);
}

void Session::cmd_append(Cmd& c) {
  const std::string& tag = c.tag;
  AppendSpool& sp = *spool_;
  std::vector<Spec> specs;
  std::string err, name;
  // The whole command again, from its start: the walk must see the
  // markers where take() saw them.
  std::string_view raw(c.p.rest().data() - c.p.pos(), c.p.pos() + c.p.rest().size());
  if (sp.walk(raw, false, specs, name, err) || !err.empty() || specs.empty())
    return bad(tag, err.empty() ? "Bad arguments" : err);
  std::string n = canonical(mailbox_in(name));
  sp.advance(name, specs, true);
  if (sp.folder != n || sp.missing) return no(tag, "[TRYCREATE] No such mailbox");
  for (auto& part : sp.parts)
    if (!part.badurl.empty()) return no(tag, "[BADURL " + log::printable(part.badurl, 200) + "] No such message or part");
  for (auto& part : sp.parts) {
    if (part.size == 0) return no(tag, "Empty message: nothing appended");
    if (part.size > limits_.max_literal || sp.total > max_total) {
      log::line("{}: APPEND past its limits", who_);
      return no(tag, "[TOOBIG] Message too large");
    }
  }
  std::string dir = folder_dir(root_, n);
  if (!allowed(tag, n, "i")) return;
  if (!quota_allows(tag, n, sp.total, specs.size())) return;
  Folder folder(dir);
  for (auto& m : specs) {
    bool good = true;
    m.flags.kw = keyword_bits(m.kws, folder, true, good);
    if (!good) return no(tag, "[LIMIT] Too many keywords in this mailbox");
  }
  // All or nothing (RFC 3502): every file is made durable in tmp/ first,
  // then linked; a failure takes back the ones already linked.
  std::vector<std::string> done;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto& m = specs[i];
    auto& part = sp.parts[i];
    maildir::Writer& w = *part.writer;
    if (!sp.finish(part) || !w.commit(name_with("", m.flags).substr(1))) {
      log::line("{}: APPEND to {} failed: {}", who_, log::printable(n), w.error());
      for (auto& path : done) ::unlink(path.c_str());
      fsync_dir(dir + "/cur");
      return no(tag, "[SERVERBUG] Cannot store the message");
    }
    if (m.when) {
      struct timespec ts[2] = {{*m.when, 0}, {*m.when, 0}};
      ::utimensat(AT_FDCWD, w.path().c_str(), ts, 0);
    }
    done.push_back(w.path());
  }
  log::line("{}: appended {} message(s), {} bytes to {}", who_, specs.size(), sp.total, log::printable(n));
  std::int64_t stored = 0;
  for (auto& part : sp.parts) stored += static_cast<std::int64_t>(part.writer->size());
  maildir_quota::record(root_, stored, static_cast<std::int64_t>(specs.size()));
  std::vector<std::string> bases;
  for (auto& path : done) bases.emplace_back(base_of(path.substr(path.rfind('/') + 1)));
  std::vector<std::uint32_t> uids;
  auto mine = [&](const std::string& file) {
    auto b = base_of(file);
    return std::find(bases.begin(), bases.end(), b) != bases.end();
  };
  std::vector<Entry> entries;
  bool same = sel_ && sel_->name == n;
  if (same) {
    update(false);
    for (auto& m : sel_->msgs)
      if (mine(m.name)) uids.push_back(m.uid);
  } else if (folder.sync(entries, false, err)) {
    for (auto& e : entries)
      if (mine(e.name)) uids.push_back(e.uid);
  }
  std::sort(uids.begin(), uids.end());
  if (uids.size() == specs.size())
    ok(tag, fmt::format("[APPENDUID {} {}] APPEND completed",
                        same ? sel_->folder->uidvalidity() : folder.uidvalidity(), uid_set_text(uids)));
  else
    ok(tag, "APPEND completed");
}

}  // namespace imapd
