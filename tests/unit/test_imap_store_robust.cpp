// Unit tests of a folder's state files against what a user (or a crash)
// may leave in a Maildir: a FIFO, a symlink or a device under the name of
// dovecot-uidlist, postern-state, dovecot-keywords or subscriptions must
// not block or be followed; and QRESYNC's expunge history when it was lost
// or trimmed must say so rather than answer "nothing went away".
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "imap/imap_store.hpp"

#include "scratch.hpp"

using namespace postern::imap;
using postern::read_file;
using postern::test::temp_dir;

namespace {

void make_maildir(const std::string& dir) {
  ::mkdir(dir.c_str(), 0700);
  for (auto sub : {"/cur", "/new", "/tmp"}) ::mkdir((dir + sub).c_str(), 0700);
}

void put(const std::string& dir, const std::string& name) { std::ofstream(dir + "/new/" + name) << "a\nb\n"; }

std::vector<Entry> synced(Folder& f) {
  std::vector<Entry> e;
  std::string err;
  REQUIRE(f.sync(e, false, err));
  return e;
}

bool regular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct Cleanup {
  std::string dir;
  ~Cleanup() {
    ::alarm(0);
    std::system(("rm -rf " + dir).c_str());
  }
};

}  // namespace

TEST_CASE("a FIFO or symlink planted as a state file neither blocks nor is followed", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  make_maildir(root);
  put(root, "100.M1P1.h");
  put(root, "200.M1P1.h");
  // Blocked on a FIFO, the test dies here rather than hanging the run.
  ::alarm(60);
  // The other state files are taken as missing and replaced.
  for (auto name : {"/postern-state", "/dovecot-keywords", "/subscriptions"})
    REQUIRE(::mkfifo((root + name).c_str(), 0600) == 0);
  Folder f(root);
  auto e = synced(f);
  REQUIRE(e.size() == 2);
  CHECK(e[0].uid == 1);
  CHECK(regular(root + "/postern-state"));
  CHECK(f.keywords().empty());
  CHECK(f.keyword("$Work", true) == 0);
  CHECK(regular(root + "/dovecot-keywords"));
  CHECK(read_subscriptions(root).empty());
  CHECK(write_subscriptions(root, {"Sent"}));
  CHECK(read_subscriptions(root) == std::vector<std::string>{"Sent"});
}

TEST_CASE("a dovecot-uidlist that is not a regular file fails the sync and stays as it is", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  make_maildir(root);
  put(root, "100.M1P1.h");
  ::alarm(60);
  // Renumbering would invalidate every client's UIDs: refuse instead.
  REQUIRE(::mkfifo((root + "/dovecot-uidlist").c_str(), 0600) == 0);
  {
    Folder f(root);
    std::vector<Entry> e;
    std::string err;
    CHECK_FALSE(f.sync(e, false, err));
    struct stat st {};
    REQUIRE(::lstat((root + "/dovecot-uidlist").c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
  }
  // A symlink to someone else's uidlist is neither read nor written.
  std::string other = temp_dir();
  Cleanup c2{other};
  { std::ofstream(other + "/list") << "3 V77 N5 G0123456789abcdef0123456789abcdef\n1 :100.M1P1.h\n"; }
  REQUIRE(::unlink((root + "/dovecot-uidlist").c_str()) == 0);
  REQUIRE(::symlink((other + "/list").c_str(), (root + "/dovecot-uidlist").c_str()) == 0);
  Folder g(root);
  std::vector<Entry> e;
  std::string err;
  CHECK_FALSE(g.sync(e, false, err));
  CHECK(read_file(other + "/list")->starts_with("3 V77 N5"));
  CHECK(!regular(root + "/dovecot-uidlist"));
  ::alarm(0);
}

TEST_CASE("expunge history lost or trimmed: vanished_since cannot answer", "[imap_store]") {
  std::string root = temp_dir();
  Cleanup c{root};
  make_maildir(root);
  for (int i = 0; i < 8; ++i) put(root, "10" + std::to_string(i) + ".M1P1.h");
  Folder a(root);
  a.set_history_limit(4);
  synced(a);
  std::uint64_t start = a.highestmodseq();
  std::string err;
  REQUIRE(a.expunge({1, 2, 3}, err));
  std::uint64_t mid = a.highestmodseq();
  REQUIRE(a.vanished_since(start) == std::vector<std::uint32_t>{1, 2, 3});
  REQUIRE(a.expunge({4, 5}, err));  // 5 expunges > 4: the oldest go
  CHECK_FALSE(a.vanished_since(start).has_value());
  CHECK(a.vanished_since(mid) == std::vector<std::uint32_t>{4, 5});
  // the trim is in the file: another process knows it too
  Folder b(root);
  synced(b);
  CHECK_FALSE(b.vanished_since(start).has_value());
  CHECK(b.vanished_since(mid) == std::vector<std::uint32_t>{4, 5});
  // a MODSEQ above any the state knows (a truncated file)
  CHECK_FALSE(b.vanished_since(b.highestmodseq() + 1000).has_value());
  // the state file lost: nothing before now can be answered
  std::uint64_t before_loss = b.highestmodseq();
  REQUIRE(::unlink((root + "/postern-state").c_str()) == 0);
  Folder d(root);
  synced(d);
  CHECK_FALSE(d.vanished_since(before_loss).has_value());
  CHECK(d.vanished_since(d.highestmodseq())->empty());
}
