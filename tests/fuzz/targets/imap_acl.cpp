// Fuzz target: IMAP ACLs (src/lib/imap/imap_acl and imap_shares): a
// folder's dovecot-acl, which its owner (or Dovecot) can write anything
// into, and the identifiers, rights and mailbox names SETACL and a shared
// SELECT take from the network. Input: any bytes. Checks that a parsed
// ACL written back reads back the same, that rights text reads back the
// same rights, that a wire identifier survives its round trip, and that a
// presented shared name never yields an owner with a '.' or '/'.
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "imap/imap_acl.hpp"
#include "imap/imap_shares.hpp"
#include "mail/conf.hpp"

using namespace postern::imap;

// The scratch home's control/ (fuzz_conf.cpp), for control/imapshared.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::mkdir(postern::conf::home, 0700);
  ::mkdir((std::string(postern::conf::home) + "/control").c_str(), 0700);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto acl = parse_acl(in);
  FUZZ_CHECK(format_acl(parse_acl(format_acl(acl))) == format_acl(acl), in);
  if (auto r = parse_rights(in)) FUZZ_CHECK(parse_rights(rights_text(*r)) == *r, in);
  if (auto e = entry_from_wire(in)) {
    auto again = entry_from_wire(entry_to_wire(*e));
    FUZZ_CHECK(again && again->id == e->id && again->negative == e->negative, in);
  }
  rights_for(acl, Identity{std::string(in.substr(0, 16)), {std::string(in.substr(0, 8))}, size % 2 == 0});
  if (auto s = split_shared(in)) {
    FUZZ_CHECK(s->owner.find_first_of("./") == std::string::npos && !s->owner.empty(), in);
    FUZZ_CHECK(!s->folder.empty(), in);
  }
  return 0;
}
