// Fuzz target: a whole imapd-mailbox session (src/imapd-mailbox) over a
// throwaway Maildir++ tree, driven in-process through NetIO's Transport
// seam. The tree is copied afresh from a template for every input, so
// runs do not depend on each other. Input: [cut sizes "\0\0\0"] what an
// authenticated client sends. The session ends by LOGOUT or BYE (their
// _Exit(0) comes back through exit_wrap) or at the end of the input (the
// transport throws, so the session's frames unwind). Checks: the session
// never ends its process otherwise, never touches anything outside its
// Maildir, and its output stays bounded.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <new>
#include <set>
#include <string>
#include <string_view>

#include "common.hpp"
#include "mail/conf.hpp"
#include "exit_wrap.hpp"
#include "imapd-mailbox/session.hpp"

using namespace postern;

namespace {

// The transport of the target: at the end of its input it throws.
class EndingTransport : public fuzz::FeedTransport {
 public:
  using FeedTransport::FeedTransport;
  ssize_t read(char* buf, std::size_t n, int timeout) override {
    if (left() == 0) throw fuzz::EndOfInput{};
    return FeedTransport::read(buf, n, timeout);
  }
};

const char* const messages[][2] = {
    {"cur/1700000000.M1P1.fuzz:2,S",
     "Return-Path: <a@example.org>\nFrom: Ann <a@example.org>\nTo: b@fuzz.example, \"C, D\" <c@example.net>\n"
     "Subject: =?UTF-8?B?aMOpbGxv?= there\nDate: Mon, 3 Apr 2023 10:00:00 +0200\nMessage-ID: <1@example.org>\n\n"
     "Hello.\n.\n..two dots\nbye\n"},
    {"cur/1700000001.M2P1.fuzz:2,FR",
     "From: x@example.org\nSubject: parts\nMIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/plain; charset=utf-8\n\n"
     "text part\n--b1\nContent-Type: message/rfc822\n\nFrom: y@example.org\nSubject: inner\n\ninner body\n"
     "--b1\nContent-Type: application/octet-stream; name=a.bin\nContent-Transfer-Encoding: base64\n"
     "Content-Disposition: attachment; filename=a.bin\n\nAAECAw==\n--b1--\nepilogue\n"},
    {"new/1700000002.M3P1.fuzz", "From: z@example.org\nSubject: new one\n\nnot yet seen\n"},
    {".Sent/cur/1700000003.M4P1.fuzz:2,S", "From: b@fuzz.example\nTo: a@example.org\nSubject: sent\n\nsent text\n"},
};

std::string make_template() {
  std::string t = fuzz::scratch_dir() + "/template";
  for (const char* d : {"", "/cur", "/new", "/tmp"}) ::mkdir((t + d).c_str(), 0700);
  for (const char* f : {".Sent", ".Drafts", ".Trash", ".Junk", ".Archive", ".Work", ".Work.Old"}) {
    std::string dir = t + "/" + f;
    for (const char* d : {"", "/cur", "/new", "/tmp"}) ::mkdir((dir + d).c_str(), 0700);
  }
  for (auto& m : messages) fuzz::write_file(t + "/" + m[0], m[1]);
  fuzz::write_file(t + "/subscriptions", "Sent\nDrafts\nTrash\nJunk\nArchive\nWork\n");
  // The scratch home's control/ (fuzz_conf.cpp): quotas, imapshared.
  ::mkdir(postern::conf::home, 0700);
  ::mkdir((std::string(postern::conf::home) + "/control").c_str(), 0700);
  return t;
}

std::set<std::string> top_entries() {
  std::set<std::string> out;
  DIR* d = ::opendir(fuzz::scratch_dir().c_str());
  if (!d) fuzz::fail("opendir scratch");
  while (auto* e = ::readdir(d)) out.insert(e->d_name);
  ::closedir(d);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string tmpl = make_template();
  static const std::string work = fuzz::scratch_dir() + "/work";
  static const std::set<std::string> expected = [] {
    fuzz::copy_tree(tmpl, work);
    return top_entries();
  }();
  fuzz::remove_tree(work);
  fuzz::copy_tree(tmpl, work);

  std::string_view cuts, input;
  fuzz::split_settings(data, size, cuts, input);
  // The objects the session uses live here and are destroyed here, however
  // the session ends.
  alignas(EndingTransport) static unsigned char tbuf[sizeof(EndingTransport)];
  alignas(NetIO) static unsigned char iobuf[sizeof(NetIO)];
  alignas(imapd::Session) static unsigned char sbuf[sizeof(imapd::Session)];
  auto* t = new (tbuf) EndingTransport(input, cuts);
  auto* io = new (iobuf) NetIO(*t, 1800);
  auto* s = new (sbuf) imapd::Session(work, *io, "fuzz from 192.0.2.7");

  static std::jmp_buf jump;
  if (setjmp(jump) == 0) {
    fuzz::exit_jump = &jump;
    try {
      s->run(input.size() % 2 ? "a1" : "");
    } catch (const fuzz::EndOfInput&) {
    }
  }
  fuzz::exit_jump = nullptr;
  std::size_t written = t->written();
  s->~Session();
  io->~NetIO();
  t->~EndingTransport();

  FUZZ_CHECK(written <= 100000 + (input.size() + 1) * 20000, input);
  FUZZ_CHECK(top_entries() == expected, input);
  return 0;
}
