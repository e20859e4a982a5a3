// imapd-mailbox: APPEND (RFC 3501 section 6.3.11, with LITERAL+). The
// message literal never sits in memory: read_command hands its bytes to
// the AppendSpool, which writes them (CRLF made LF, as local stores mail)
// to a file in tmp/ of the target folder as they arrive; APPEND then links
// it into cur/ with its flags. Every other literal, of any command, stays
// in memory only while the command it is part of stays within
// max_inline; past that its bytes are thrown away and the command
// answered NO [TOOBIG]. Either way memory stays bounded whatever the
// literals' sizes (within Limits::max_literal). See imapd(8).
#include <fcntl.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "mail/maildir.hpp"
#include "session.hpp"

namespace imapd {

namespace {

// How much of a command, its literals but APPEND's message included, may
// be held in memory.
constexpr std::uint64_t max_inline = 1 << 20;

}  // namespace

struct AppendSpool : LiteralSink {
  explicit AppendSpool(Session& session) : s(session) {}
  Session& s;
  bool active = false;     // a message literal was taken for this command
  std::size_t offset = 0;  // where its marker ends in the command
  std::uint64_t size = 0;
  bool discard = false;    // taken only to be thrown away
  std::string folder;      // the target (canonical name); empty when missing
  std::unique_ptr<maildir::Writer> writer;
  bool failed = false;
  bool cr = false;  // a CR held back: the next byte decides whether it goes

  void reset() {
    active = discard = failed = cr = false;
    offset = 0;
    size = 0;
    folder.clear();
    writer.reset();  // removes an uncommitted tmp/ file
  }

  // Starts a file in the folder's tmp/; false when the folder is missing.
  bool open(const std::string& name) {
    std::string n = canonical(name);
    std::string dir = folder_dir(s.root_, n);
    struct stat st {};
    if (!valid_name(n) || ::stat((dir + "/cur").c_str(), &st) != 0) return false;
    writer = std::make_unique<maildir::Writer>(dir + "/");
    folder = n;
    if (!writer->open()) failed = true;
    return true;
  }

  bool take(std::string_view so_far, std::uint64_t n) override {
    Parser p(so_far);
    auto tag = p.atom();
    auto verb = tag && p.sp() ? p.atom() : std::nullopt;
    bool at_message = false;
    std::optional<std::string> name;
    if (verb && upper(*verb) == "APPEND" && !active && p.sp() && (name = p.astring()) && p.sp()) {
      if (p.peek() == '(' && !(p.flag_list(false) && p.sp())) name.reset();
      if (name && p.peek() == '"' && !(p.quoted() && p.sp())) name.reset();
      at_message = name && p.literal_marker() && p.pos() == so_far.size();
    }
    if (!at_message) {
      if (so_far.size() + n <= max_inline) return false;
      discard = true;
      return true;
    }
    active = true;
    offset = so_far.size();
    size = n;
    if (!open(*name)) folder.clear();
    return true;
  }

  void write(std::string_view chunk) override {
    if (!active || discard || !writer || failed) return;
    std::string lf;
    lf.reserve(chunk.size() + 1);
    for (char c : chunk) {
      if (cr && c != '\n') lf += '\r';
      cr = c == '\r';
      if (!cr) lf += c;
    }
    if (!writer->write(lf)) failed = true;
  }

  bool finish() {
    if (cr && !failed && writer && !writer->write("\r")) failed = true;
    cr = false;
    return !failed;
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
  Parser& p = c.p;
  const std::string& tag = c.tag;
  AppendSpool& sp = *spool_;
  auto name = p.astring();
  if (!name || !p.sp()) return bad(tag, "Bad arguments");
  Flags flags;
  std::vector<std::string> kws;
  if (p.peek() == '(') {
    auto fl = p.flag_list(false);
    if (!fl || !p.sp()) return bad(tag, "Bad flag list");
    for (auto& f : *fl) {
      std::string u = upper(f);
      if (u == "\\SEEN") flags.sys |= f_seen;
      else if (u == "\\ANSWERED") flags.sys |= f_answered;
      else if (u == "\\FLAGGED") flags.sys |= f_flagged;
      else if (u == "\\DELETED") flags.sys |= f_deleted;
      else if (u == "\\DRAFT") flags.sys |= f_draft;
      else if (u == "\\RECENT" || f[0] == '\\') return bad(tag, "Invalid flag " + log::printable(f, 40));
      else kws.push_back(f);
    }
  }
  std::optional<std::time_t> when;
  if (p.peek() == '"') {
    auto d = p.quoted();
    if (!d || !(when = parse_date_time(*d)) || !p.sp()) return bad(tag, "Bad date-time");
  }
  std::uint64_t size = 0;
  if (sp.active && !sp.discard) {
    auto n = p.literal_marker();
    if (!n || p.pos() != sp.offset) return bad(tag, "Bad message literal");
    size = sp.size;
  } else {  // a literal read into memory (odd syntax): spool it the same way
    auto data = p.literal();
    if (!data) return bad(tag, "Bad message literal");
    sp.reset();
    sp.active = true;
    size = data->size();
    if (sp.open(*name)) sp.write(*data);
  }
  if (!p.eol()) return bad(tag, "Bad message literal");
  std::string n = canonical(*name);
  if (sp.folder.empty() || sp.folder != n) return no(tag, "[TRYCREATE] No such mailbox");
  if (size == 0) return no(tag, "Empty message");
  std::string dir = folder_dir(root_, n);
  Folder folder(dir);
  bool good;
  flags.kw = keyword_bits(kws, folder, true, good);
  maildir::Writer& w = *sp.writer;
  if (!sp.finish() || !w.commit(name_with("", flags).substr(1))) {
    log::line("{}: APPEND to {} failed: {}", who_, log::printable(n), w.error());
    return no(tag, "[SERVERBUG] Cannot store the message");
  }
  if (when) {
    struct timespec ts[2] = {{*when, 0}, {*when, 0}};
    ::utimensat(AT_FDCWD, w.path().c_str(), ts, 0);
  }
  log::line("{}: appended {} bytes to {}", who_, size, log::printable(n));
  std::string base(base_of(w.path().substr(w.path().rfind('/') + 1)));
  std::vector<Entry> entries;
  std::string err;
  std::uint32_t uid = 0;
  bool same = sel_ && sel_->name == n;
  if (same) {
    update(false);
    for (auto& m : sel_->msgs)
      if (base_of(m.name) == base) uid = m.uid;
  } else if (folder.sync(entries, false, err)) {
    for (auto& e : entries)
      if (base_of(e.name) == base) uid = e.uid;
  }
  if (uid)
    ok(tag, fmt::format("[APPENDUID {} {}] APPEND completed",
                        same ? sel_->folder->uidvalidity() : folder.uidvalidity(), uid));
  else
    ok(tag, "APPEND completed");
}

}  // namespace imapd
