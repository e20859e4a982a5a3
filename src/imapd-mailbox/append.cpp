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

// One message of the command, as parsed.
struct Spec {
  Flags flags;
  std::vector<std::string> kws;
  std::optional<std::time_t> when;
  int part = -1;      // its spooled literal
  bool utf8 = false;  // RFC 6855's UTF8 (literal8) form
};

}  // namespace

struct AppendSpool : LiteralSink {
  explicit AppendSpool(Session& session) : s(session) {}
  Session& s;
  struct Part {
    std::size_t offset = 0;  // where its marker ends in the command
    std::uint64_t size = 0;
    std::unique_ptr<maildir::Writer> writer;
    bool failed = false;
    bool cr = false;  // a CR held back: the next byte decides whether it goes
  };
  std::vector<Part> parts;
  std::uint64_t total = 0;
  bool discard = false;  // a literal was taken only to be thrown away
  bool too_many = false;
  bool missing = false;  // the target folder does not exist
  std::string folder;    // the target (canonical name)

  void reset() {
    parts.clear();  // removes uncommitted tmp/ files
    total = 0;
    discard = too_many = missing = false;
    folder.clear();
  }

  bool open_part(Part& part) {
    if (folder.empty() || missing) return false;
    part.writer = std::make_unique<maildir::Writer>(folder_dir(s.root_, folder) + "/");
    if (!part.writer->open()) part.failed = true;
    return true;
  }

  // Walks an APPEND command (text: as read so far, or whole). Literal
  // markers at known offsets are spooled parts. With at_end, true when
  // text ends right after a marker in message position (a new part);
  // otherwise fills specs and returns false with err on bad syntax.
  bool walk(std::string_view text, bool at_end, std::vector<Spec>* specs, std::string* name, std::string& err) {
    Parser p(text);
    auto tag = p.atom();
    auto verb = tag && p.sp() ? p.atom() : std::nullopt;
    if (!verb || upper(*verb) != "APPEND" || !p.sp()) return false;
    auto box = p.astring();
    if (!box) return err = "Bad mailbox name", false;
    if (name) *name = *box;
    // A message literal's marker, "~" (literal8) allowed; -1 when there is
    // none, -2 when it is the new one at the end.
    auto marker = [&](bool& eight) -> int {
      std::size_t save = p.pos();
      eight = p.accept('~');
      if (!p.literal_marker()) return p.set_pos(save), -1;
      if (at_end && p.pos() == text.size()) return -2;
      for (std::size_t k = 0; k < parts.size(); ++k)
        if (parts[k].offset == p.pos()) return static_cast<int>(k);
      return p.set_pos(save), -1;
    };
    for (;;) {
      if (!p.sp()) return err = "Bad arguments", false;
      Spec m;
      if (p.peek() == '(') {
        auto fl = p.flag_list(false);
        if (!fl || !p.sp()) return err = "Bad flag list", false;
        for (auto& f : *fl) {
          std::string u = upper(f);
          if (u == "\\SEEN") m.flags.sys |= f_seen;
          else if (u == "\\ANSWERED") m.flags.sys |= f_answered;
          else if (u == "\\FLAGGED") m.flags.sys |= f_flagged;
          else if (u == "\\DELETED") m.flags.sys |= f_deleted;
          else if (u == "\\DRAFT") m.flags.sys |= f_draft;
          else if (f[0] == '\\') return err = "Invalid flag " + log::printable(f, 40), false;
          else m.kws.push_back(f);
        }
      }
      if (p.peek() == '"') {
        auto d = p.quoted();
        if (!d || !(m.when = parse_date_time(*d)) || !p.sp()) return err = "Bad date-time", false;
      }
      bool eight = false;
      int k = marker(eight);
      if (k == -1 && (p.peek() == 'U' || p.peek() == 'u')) {
        auto a = p.atom();
        if (!a || upper(*a) != "UTF8" || !p.sp() || !p.accept('(')) return err = "Bad message", false;
        if (!s.enabled_.utf8) return err = "UTF8 needs ENABLE UTF8=ACCEPT", false;
        m.utf8 = true;
        k = marker(eight);
        if (k == -2) return true;
        if (k < 0 || !eight || !p.accept(')')) return err = "Bad UTF8 message", false;
      }
      if (k == -2) return true;
      if (k < 0) return err = "Bad message literal", false;
      m.part = k;
      if (specs) specs->push_back(std::move(m));
      if (p.eol()) return false;
    }
  }

  bool take(std::string_view so_far, std::uint64_t n) override {
    std::string err, name;
    if (discard || !walk(so_far, true, nullptr, &name, err)) {
      if (!discard && so_far.size() + n <= max_inline) return false;
      discard = true;
      return true;
    }
    if (parts.size() >= max_messages || total + n > max_total) {
      log::line("{}: MULTIAPPEND past {} messages or {} bytes", s.who_, max_messages, max_total);
      too_many = discard = true;
      return true;
    }
    if (parts.empty()) {
      folder = canonical(s.mailbox_in(name));
      struct stat st {};
      missing = !valid_name(folder) || ::stat((folder_dir(s.root_, folder) + "/cur").c_str(), &st) != 0;
    }
    Part& part = parts.emplace_back();
    part.offset = so_far.size();
    part.size = n;
    total += n;
    open_part(part);
    return true;
  }

  void write(std::string_view chunk) override {
    if (discard || parts.empty()) return;
    Part& part = parts.back();
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

void Session::cmd_append(Cmd& c) {
  const std::string& tag = c.tag;
  AppendSpool& sp = *spool_;
  std::vector<Spec> specs;
  std::string err, name;
  // The whole command again, from its start: the walk must see the
  // markers where take() saw them.
  std::string_view raw(c.p.rest().data() - c.p.pos(), c.p.pos() + c.p.rest().size());
  if (sp.walk(raw, false, &specs, &name, err) || !err.empty() || specs.empty())
    return bad(tag, err.empty() ? "Bad arguments" : err);
  std::string n = canonical(mailbox_in(name));
  if (sp.parts.empty() || sp.folder != n || sp.missing) return no(tag, "[TRYCREATE] No such mailbox");
  for (auto& m : specs)
    if (sp.parts[m.part].size == 0) return no(tag, "Empty message: nothing appended");
  std::string dir = folder_dir(root_, n);
  Folder folder(dir);
  for (auto& m : specs) {
    bool good = true;
    m.flags.kw = keyword_bits(m.kws, folder, true, good);
    if (!good) return no(tag, "[LIMIT] Too many keywords in this mailbox");
  }
  // All or nothing (RFC 3502): every file is made durable in tmp/ first,
  // then linked; a failure takes back the ones already linked.
  std::vector<std::string> done;
  for (auto& m : specs) {
    auto& part = sp.parts[m.part];
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
