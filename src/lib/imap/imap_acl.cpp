// imap_acl: dovecot-acl and RFC 4314 rights (imap_acl.hpp).
#include "imap/imap_acl.hpp"

#include <grp.h>
#include <pwd.h>

#include <cerrno>

#include "base/io.hpp"
#include "imap/imap_dotlock.hpp"
#include "imap/imap_store.hpp"

namespace postern::imap {

namespace {

constexpr std::size_t max_acl_file = 1 << 20;
constexpr std::size_t max_name = 255;

bool plain_name(std::string_view n) {
  if (n.empty() || n.size() > max_name) return false;
  for (unsigned char c : n)
    if (c <= ' ' || c == 0x7f || c == '"' || c == '\\') return false;
  return true;
}

}  // namespace

Rights right(char letter) {
  auto i = all_rights.find(letter);
  return i == std::string_view::npos ? 0 : static_cast<Rights>(1u << i);
}

std::optional<Rights> parse_rights(std::string_view s) {
  Rights r = 0;
  for (char c : s) {
    if (c == 'c') r |= right('k') | right('x');
    else if (c == 'd') r |= right('t') | right('e');
    else if (Rights one = right(c)) r |= one;
    else return std::nullopt;
  }
  return r;
}

std::string rights_text(Rights r) {
  std::string out;
  for (char c : all_rights)
    if (has_right(r, c)) out += c;
  if (has_right(r, 'k') && has_right(r, 'x')) out += 'c';
  if (has_right(r, 't') && has_right(r, 'e')) out += 'd';
  return out;
}

std::vector<AclEntry> parse_acl(std::string_view text) {
  std::vector<AclEntry> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    AclEntry e;
    std::string_view id = line.substr(0, sp);
    if (!id.empty() && id[0] == '-') e.negative = true, id.remove_prefix(1);
    std::string_view letters = line.substr(sp + 1);
    if (auto colon = letters.find(':'); colon != std::string_view::npos) letters = letters.substr(0, colon);
    while (!letters.empty() && letters.back() == ' ') letters.remove_suffix(1);
    auto r = parse_rights(letters);
    if (!r) continue;
    bool known = id == "owner" || id == "anyone" || id == "authenticated" ||
                 ((id.starts_with("user=") || id.starts_with("group=")) && plain_name(id.substr(id.find('=') + 1)));
    if (!known) continue;
    e.id = std::string(id);
    e.rights = *r;
    out.push_back(std::move(e));
  }
  return out;
}

std::string format_acl(const std::vector<AclEntry>& acl) {
  std::string out;
  for (auto& e : acl) {
    std::string letters;
    for (char c : all_rights)
      if (has_right(e.rights, c)) letters += c;
    out += (e.negative ? "-" : "") + e.id + " " + letters + "\n";
  }
  return out;
}

std::optional<AclEntry> entry_from_wire(std::string_view id) {
  AclEntry e;
  if (!id.empty() && id[0] == '-') e.negative = true, id.remove_prefix(1);
  if (id == "anyone" || id == "authenticated") e.id = std::string(id);
  else if (id.starts_with("$") && plain_name(id.substr(1))) e.id = "group=" + std::string(id.substr(1));
  else if (id.starts_with("group:") && plain_name(id.substr(6))) e.id = "group=" + std::string(id.substr(6));
  else if (plain_name(id) && id.find('=') == std::string_view::npos && id != "owner") e.id = "user=" + std::string(id);
  else return std::nullopt;
  return e;
}

std::string entry_to_wire(const AclEntry& e) {
  std::string id = e.id;
  if (id.starts_with("user=")) id = id.substr(5);
  else if (id.starts_with("group=")) id = "$" + id.substr(6);
  return (e.negative ? "-" : "") + id;
}

Rights rights_for(const std::vector<AclEntry>& acl, const Identity& who) {
  auto names = [&](const AclEntry& e) {
    if (e.id == "anyone" || e.id == "authenticated") return true;
    if (e.id == "owner") return who.owner;
    if (e.id.starts_with("user=")) return e.id.compare(5, std::string::npos, who.user) == 0;
    if (e.id.starts_with("group="))
      for (auto& g : who.groups)
        if (e.id.compare(6, std::string::npos, g) == 0) return true;
    return false;
  };
  Rights plus = 0, minus = 0;
  bool owner_entry = false;
  for (auto& e : acl) {
    if (e.id == "owner") owner_entry = true;
    if (!names(e)) continue;
    (e.negative ? minus : plus) |= e.rights;
  }
  if (who.owner && !owner_entry) plus = every_right;
  return static_cast<Rights>(plus & ~minus);
}

std::vector<AclEntry> read_acl(const std::string& dir) {
  auto text = read_folder_file(dir + "/dovecot-acl", max_acl_file);
  return text ? parse_acl(*text) : std::vector<AclEntry>{};
}

bool write_acl(const std::string& dir, const std::vector<AclEntry>& acl) {
  Dotlock lock(dir + "/dovecot-acl", 30, 32);
  if (!lock.ok()) return false;
  return write_file_atomic(dir + "/dovecot-acl", format_acl(acl), 0600, true);
}

std::vector<std::string> groups_of(const std::string& user) {
  std::vector<std::string> out;
  const struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return out;
  int n = 64;
  std::vector<gid_t> gids(static_cast<std::size_t>(n));
  if (::getgrouplist(user.c_str(), pw->pw_gid, gids.data(), &n) < 0) {
    gids.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(user.c_str(), pw->pw_gid, gids.data(), &n) < 0) return out;
  }
  gids.resize(static_cast<std::size_t>(n));
  for (gid_t g : gids)
    if (const struct group* gr = ::getgrgid(g)) out.emplace_back(gr->gr_name);
  return out;
}

}  // namespace postern::imap
