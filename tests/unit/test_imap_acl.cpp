// Unit tests for src/lib/imap/imap_acl: rights letters (with RFC 4314's
// obsolete c and d), dovecot-acl lines, wire identifiers and how a user's
// rights are computed from positive, negative, group and anyone entries.
#include <catch2/catch.hpp>

#include "imap/imap_acl.hpp"
#include "imap/imap_shares.hpp"

using namespace postern::imap;

TEST_CASE("imap_acl: rights letters", "[imap_acl]") {
  CHECK(rights_text(*parse_rights("rl")) == "lr");
  CHECK(rights_text(*parse_rights("lrswipkxtea")) == "lrswipkxteacd");
  CHECK(rights_text(*parse_rights("c")) == "kxc");   // c = k and x
  CHECK(rights_text(*parse_rights("d")) == "ted");   // d = t and e
  CHECK(rights_text(*parse_rights("")) == "");
  CHECK_FALSE(parse_rights("lrz"));
  CHECK_FALSE(parse_rights("l r"));
}

TEST_CASE("imap_acl: dovecot-acl lines", "[imap_acl]") {
  auto acl = parse_acl("owner lrswipkxtea\nuser=bob lrs\n-user=carol r\ngroup=staff lrw\nanyone l\n"
                       "bogus lr\nuser=x lrQ\nuser= lr\nnospace\n# comment\nauthenticated lr:named\n");
  REQUIRE(acl.size() == 6);
  CHECK(acl[1].id == "user=bob");
  CHECK(acl[2].negative);
  CHECK(acl[5].id == "authenticated");
  CHECK(format_acl(parse_acl(format_acl(acl))) == format_acl(acl));
}

TEST_CASE("imap_acl: wire identifiers", "[imap_acl]") {
  CHECK(entry_from_wire("bob")->id == "user=bob");
  CHECK(entry_from_wire("-bob")->negative);
  CHECK(entry_from_wire("$staff")->id == "group=staff");
  CHECK(entry_from_wire("group:staff")->id == "group=staff");
  CHECK(entry_from_wire("anyone")->id == "anyone");
  CHECK_FALSE(entry_from_wire("user=bob"));
  CHECK_FALSE(entry_from_wire("owner"));
  CHECK_FALSE(entry_from_wire(""));
  CHECK_FALSE(entry_from_wire("a b"));
  CHECK(entry_to_wire(*entry_from_wire("$staff")) == "$staff");
  CHECK(entry_to_wire(*entry_from_wire("-bob")) == "-bob");
}

TEST_CASE("imap_acl: a user's rights", "[imap_acl]") {
  auto acl = parse_acl("user=bob lrs\n-user=bob s\ngroup=staff w\nanyone l\n-group=interns l\n");
  CHECK(rights_text(rights_for(acl, {"bob", {}, false})) == "lr");
  CHECK(rights_text(rights_for(acl, {"bob", {"staff"}, false})) == "lrw");
  CHECK(rights_text(rights_for(acl, {"eve", {}, false})) == "l");
  CHECK(rights_text(rights_for(acl, {"ivy", {"interns"}, false})) == "");
  // the owner has every right unless an owner entry says otherwise
  CHECK(rights_for(acl, {"ann", {}, true}) == every_right);
  CHECK(rights_text(rights_for(parse_acl("owner lra\n"), {"ann", {}, true})) == "lra");
}

TEST_CASE("imap_shares: presented names", "[imap_acl]") {
  auto s = split_shared("Other Users.ann.Work.2024");
  REQUIRE(s);
  CHECK(s->owner == "ann");
  CHECK(s->folder == "Work.2024");
  CHECK_FALSE(split_shared("Other Users.ann"));
  CHECK_FALSE(split_shared("Other Users"));
  CHECK_FALSE(split_shared("Other Users..x"));
  CHECK_FALSE(split_shared("INBOX.Other Users.ann.x"));
  CHECK(in_shared_namespace("Other Users"));
  CHECK(in_shared_namespace("Other Users.ann"));
  CHECK_FALSE(in_shared_namespace("Other Usersx"));
  CHECK_FALSE(in_shared_namespace("Work"));
}
