// Unit tests of a folder's on-disk state (imap_store, imap_folder,
// imap_files, imap_modseq, imap_dotlock): Dovecot's dovecot-uidlist and
// dovecot-keywords, dovecot-uidvalidity, conversion of postern-uidlist and
// Courier's files, \Recent claims, MODSEQs, flag changes under the lock and
// the subscriptions file, all on a real scratch Maildir.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "imap/imap_dotlock.hpp"
#include "imap/imap_files.hpp"
#include "imap/imap_modseq.hpp"
#include "imap/imap_store.hpp"

#include "scratch.hpp"

using namespace postern::imap;
using postern::read_file;
using postern::test::temp_dir;

namespace {

std::string maildir(const std::string& root, const std::string& name = "") {
  std::string dir = name.empty() ? root : root + "/." + name;
  ::mkdir(dir.c_str(), 0700);
  for (auto sub : {"/cur", "/new", "/tmp"}) ::mkdir((dir + sub).c_str(), 0700);
  if (!name.empty()) std::ofstream(dir + "/maildirfolder");
  return dir;
}

void deliver(const std::string& dir, const std::string& name, const std::string& text = "a\nb\n") {
  std::ofstream(dir + "/new/" + name) << text;
}

std::vector<Entry> synced(Folder& f, bool claim = false) {
  std::vector<Entry> e;
  std::string err;
  REQUIRE(f.sync(e, claim, err));
  return e;
}

struct Cleanup {
  std::string dir;
  ~Cleanup() { std::system(("rm -rf " + dir).c_str()); }
};

}  // namespace

TEST_CASE("dovecot-uidlist: UIDs kept, never reused, appended as Dovecot does", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  maildir(root);
  deliver(root, "100.M1P1.h", "a\nb\n");
  deliver(root, "200.M1P1.h", "c\n");
  Folder f(root);
  auto e = synced(f, true);
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 1);
  CHECK(e[0].vsize == 6);
  CHECK(e[1].uid == 2);
  CHECK(f.guid().size() == 32);
  auto text = read_file(root + "/dovecot-uidlist");
  REQUIRE(text);
  CHECK(text->starts_with(fmt::format("3 V{} N", f.uidvalidity())));
  CHECK(text->find(" G" + f.guid()) != std::string::npos);
  CHECK(text->find("1 W6 :100.M1P1.h\n") != std::string::npos);
  // a removed message's UID is never reused; a new one is appended
  ::unlink((root + "/cur/" + e[0].name).c_str());
  deliver(root, "300.M1P1.h", "d\n");
  Folder again(root);
  e = synced(again, true);
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 2);
  CHECK(e[1].uid == 3);
  CHECK(again.uidnext() == 4);
  CHECK(again.recent_from() == 3);
  CHECK(read_file(root + "/dovecot-uidlist")->ends_with("\n3 W3 :300.M1P1.h\n"));
}

TEST_CASE("a folder deleted and made again gets a new UIDVALIDITY at once", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  maildir(root);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(create_folder(root, "Box"));
    Folder f(root + "/.Box");
    synced(f);
    CHECK(seen.insert(f.uidvalidity()).second);
    REQUIRE(delete_folder(root, "Box"));
  }
  CHECK(read_file(root + "/dovecot-uidvalidity"));
}

TEST_CASE("recent_from without a claim is the first unclaimed UID", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  maildir(root);
  deliver(root, "100.M1P1.h");
  Folder peek(root);
  synced(peek, false);
  CHECK(peek.recent_from() == 1);  // nobody claimed message 1
  Folder owner(root);
  synced(owner, true);
  CHECK(owner.recent_from() == 1);  // the claimer gets it
  Folder later(root);
  synced(later, false);
  CHECK(later.recent_from() == 2);  // and then it is nobody's new mail
}

TEST_CASE("flag changes apply to the current flags, with new MODSEQs", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  maildir(root);
  deliver(root, "100.M1P1.h");
  deliver(root, "200.M1P1.h");
  Folder a(root), b(root);
  auto ea = synced(a);
  synced(b);
  std::uint64_t before = a.highestmodseq();
  std::vector<FlagResult> r;
  std::string err;
  Flags seen{f_seen, 0, {}}, answered{f_answered, 0, {}};
  REQUIRE(a.change_flags({1}, FlagChange::add, seen, 0, r, err));
  // b still holds the file name without S: its change must keep a's
  REQUIRE(b.change_flags({1}, FlagChange::add, answered, 0, r, err));
  REQUIRE(r.size() == 1);
  CHECK(r[0].flags.sys == (f_seen | f_answered));
  CHECK(r[0].modseq > before);
  REQUIRE(a.change_flags({1}, FlagChange::remove, seen, 0, r, err));
  CHECK(r[0].flags.sys == f_answered);
  // UNCHANGEDSINCE: message 1 changed after it, message 2 did not
  std::uint64_t m2 = synced(a)[1].modseq;
  REQUIRE(a.change_flags({1, 2, 9}, FlagChange::add, Flags{f_flagged, 0, {}}, m2, r, err));
  REQUIRE(r.size() == 3);
  CHECK(r[0].skipped);
  CHECK_FALSE(r[1].skipped);
  CHECK(r[1].flags.sys == f_flagged);
  CHECK(r[2].gone);
  // a change by another program (Dovecot, mutt) gets a MODSEQ at the next sync
  auto e = synced(a);
  std::uint64_t high = a.highestmodseq();
  std::string to = name_with(base_of(e[1].name), Flags{f_deleted, 0, {}});
  REQUIRE(::rename((root + "/cur/" + e[1].name).c_str(), (root + "/cur/" + to).c_str()) == 0);
  e = synced(b);
  CHECK(e[1].modseq > high);
  CHECK(b.highestmodseq() == e[1].modseq);
  // expunges: recorded with a MODSEQ, answered by vanished_since
  std::uint64_t before_expunge = b.highestmodseq();
  REQUIRE(b.expunge({2}, err));
  CHECK(synced(a).size() == 1);
  CHECK(a.vanished_since(before_expunge) == std::vector<std::uint32_t>{2});
  CHECK(a.vanished_since(a.highestmodseq())->empty());
  CHECK(a.highestmodseq() > before_expunge);
}

TEST_CASE("MODSEQs survive a new process and never go backwards", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  maildir(root);
  deliver(root, "100.M1P1.h");
  Folder a(root);
  synced(a);
  std::vector<FlagResult> r;
  std::string err;
  for (int i = 0; i < 50; ++i)
    REQUIRE(a.change_flags({1}, i % 2 ? FlagChange::remove : FlagChange::add, Flags{f_seen, 0, {}}, 0, r, err));
  std::uint64_t high = a.highestmodseq();
  Folder b(root);
  synced(b);
  CHECK(b.highestmodseq() == high);
  // a torn last line (a crash mid-append) is dropped and written whole
  { std::ofstream(root + "/postern-state", std::ios::app) << "M1 99999"; }
  Folder t(root);
  synced(t);
  CHECK(t.highestmodseq() == high);
  // a lost state file: MODSEQs restart above anything given before
  ::unlink((root + "/postern-state").c_str());
  Folder d(root);
  synced(d);
  CHECK(d.highestmodseq() > high);
}

TEST_CASE("postern-uidlist and Courier's files are converted keeping UIDs", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  maildir(root);
  std::ofstream(root + "/cur/100.M1P1.h:2,S") << "x\n";
  std::ofstream(root + "/cur/200.M1P1.h:2,") << "y\n";
  std::ofstream(root + "/postern-uidlist") << "3 V1234 N9 R8\n5 W3 :100.M1P1.h\n7 W3 :200.M1P1.h\n";
  Folder f(root);
  auto e = synced(f, true);
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 5);
  CHECK(e[1].uid == 7);
  CHECK(f.uidvalidity() == 1234);
  CHECK(f.uidnext() == 9);
  CHECK(f.recent_from() == 8);
  CHECK_FALSE(read_file(root + "/postern-uidlist"));
  CHECK(read_file(root + "/dovecot-uidlist")->starts_with("3 V1234 N9 G"));

  std::string box = maildir(root, "Old");
  std::ofstream(box + "/cur/300.M1P1.h:2,S") << "x\n";
  std::ofstream(box + "/cur/400.M1P1.h:2,") << "y\n";
  std::ofstream(box + "/courierimapuiddb") << "1 777 12\n10 300.M1P1.h:2,S\n11 400.M1P1.h\n";
  ::mkdir((box + "/courierimapkeywords").c_str(), 0700);
  std::ofstream(box + "/courierimapkeywords/:list") << "$Work\nurgent\n\n400.M1P1.h:0 1\n";
  Folder old(box);
  e = synced(old);
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 10);
  CHECK(e[1].uid == 11);
  CHECK(old.uidvalidity() == 777);
  CHECK(old.keywords() == std::vector<std::string>{"$Work", "urgent"});
  CHECK(flags_of(e[1].name).kw == 3);
}

TEST_CASE("the file parsers read what Dovecot writes and skip what they cannot read", "[imap_store]") {
  auto u = parse_uidlist("3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1 X9\n"
                         "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
                         "25017 W2481 P123abc :1276533073.M242911P3632.kurkku:2,F\n"
                         "25010 :out.of.order\n"
                         "0 :zero\n"
                         "25020 q1 :lower.case.ext\n"
                         "25030 :torn");
  REQUIRE(u);
  CHECK(u->validity == 1275660208);
  CHECK(u->next == 25022);
  CHECK(u->hdr_ext == "X9");
  REQUIRE(u->recs.size() == 3);
  CHECK(u->recs[0].base == "1276528487.M364837P9451.kurkku,S=1355,W=1394");
  CHECK(u->recs[1].ext == std::vector<std::string>{"W2481", "P123abc"});
  CHECK(record_number(u->recs[1], 'W') == 2481u);
  CHECK(u->recs[2].ext.empty());
  CHECK(u->torn);
  CHECK(uidlist_record(u->recs[1]) == "25017 W2481 P123abc :1276533073.M242911P3632.kurkku\n");
  CHECK(uidlist_header(*u).starts_with("3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1 X9\n"));
  CHECK_FALSE(parse_uidlist("3 V0 N1\n"));
  CHECK_FALSE(parse_uidlist("garbage\n"));
  CHECK_FALSE(parse_uidlist("3 V1 N1 Gnothex\n"));
  CHECK(parse_uidlist("1 99 5\n3 a\n")->recs.size() == 1);

  CHECK(parse_keywords("0 $Junk\n1 $NonJunk\n30 far\n2 bad name\n3 $Junk\n") ==
        std::vector<std::string>{"$Junk", "$NonJunk", "", ""});
  CHECK(format_keywords({"$Junk", "", "x"}) == "0 $Junk\n2 x\n");

  auto s = parse_subscriptions("V\t2\n\nINBOX\nProjekte\tSub\nA\001tB\n");
  CHECK(s.version == 2);
  CHECK(s.names == std::vector<std::string>{"INBOX", "Projekte.Sub", "A\tB"});
  CHECK(format_subscriptions(Subscriptions{2, {"INBOX", "Projekte.Sub"}}) == "V\t2\n\nINBOX\nProjekte\tSub\n");
  auto old = parse_subscriptions("INBOX\nA.B\nA.B\n");
  CHECK(old.version == 1);
  CHECK(old.names == std::vector<std::string>{"INBOX", "A.B"});
  CHECK(format_subscriptions(old) == "INBOX\nA.B\n");

  auto st = parse_state("P1 V5 H10\nR3\nM1 11 6 :S\nM2 12 7 :\nX2 13\nM9 zz 1 :S\nM3 14 1 :S");
  REQUIRE(st);
  CHECK(st->validity == 5);
  CHECK(st->highest == 13);
  CHECK(st->recent_from == 3);
  CHECK(st->msgs.size() == 1);
  CHECK(st->msgs[1].flags == "S");
  CHECK(st->expunged.size() == 1);
  CHECK(parse_state(format_state(*st))->msgs.size() == 1);
  CHECK_FALSE(parse_state("M1 1 1 :S\n"));
  // fuzz finding (imap_state/found-uid-back-after-expunge): a UID that came
  // back after its expunge stayed expunged once the file was compacted
  auto back = parse_state("P1 V5 H1\nX3 13\nM3 11 6 :S\n");
  REQUIRE(back);
  CHECK(parse_state(format_state(*back))->msgs.count(3) == 1);
}

TEST_CASE("subscriptions keep the version the file had", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  std::ofstream(root + "/subscriptions") << "V\t2\n\nProjekte\tSub\n";
  CHECK(read_subscriptions(root) == std::vector<std::string>{"Projekte.Sub"});
  REQUIRE(write_subscriptions(root, {"Projekte.Sub", "INBOX"}));
  CHECK(*read_file(root + "/subscriptions") == "V\t2\n\nProjekte\tSub\nINBOX\n");
  std::ofstream(root + "/subscriptions") << "A.B\n";
  REQUIRE(write_subscriptions(root, {"A.B", "C"}));
  CHECK(*read_file(root + "/subscriptions") == "A.B\nC\n");
  ::unlink((root + "/subscriptions").c_str());
  REQUIRE(write_subscriptions(root, {"X"}));
  CHECK(*read_file(root + "/subscriptions") == "V\t2\n\nX\n");
}

TEST_CASE("Dovecot's dot-lock: exclusive, stale when its process is gone", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  std::string file = root + "/dovecot-uidlist";
  {
    Dotlock a(file);
    REQUIRE(a.ok());
    CHECK(*read_file(file + ".lock") == std::to_string(::getpid()) + ":" + lock_hostname());
    Dotlock b(file, 120, 1);  // held: gives up after its wait
    CHECK_FALSE(b.ok());
  }
  CHECK_FALSE(read_file(file + ".lock"));
  // a lock left by a dead process on this host is taken over
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  std::ofstream(file + ".lock") << child << ":" << lock_hostname();
  struct timespec old[2] = {{std::time(nullptr) - 10, 0}, {std::time(nullptr) - 10, 0}};
  ::utimensat(AT_FDCWD, (file + ".lock").c_str(), old, 0);
  Dotlock d(file, 120, 5);
  CHECK(d.ok());
}
