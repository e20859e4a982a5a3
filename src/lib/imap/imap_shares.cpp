// imap_shares: the shared namespaces and conf-home/shares (imap_shares.hpp).
#include "imap/imap_shares.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/io.hpp"
#include "mail/conf.hpp"
#include "mail/control.hpp"

namespace postern::imap {

bool shareable_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n[0] == '.' || n[0] == '-') return false;
  for (unsigned char c : n)
    if (c <= ' ' || c >= 0x7f || c == '/' || c == '.' || c == '"' || c == '\\' || c == '*' || c == '%') return false;
  return true;
}

std::string public_account() {
  auto a = control::line("imapshared", "");
  return a && shareable_name(*a) ? *a : "";
}

std::string share_prefix(const std::string& owner) {
  if (!owner.empty() && owner == public_account()) return std::string(public_folders) + ".";
  return std::string(other_users) + "." + owner + ".";
}

std::optional<SharedName> split_shared(std::string_view name) {
  std::string pub(public_folders);
  if (name.starts_with(pub + ".") && name.size() > pub.size() + 1) {
    std::string acct = public_account();
    if (acct.empty()) return std::nullopt;
    return SharedName{acct, std::string(name.substr(pub.size() + 1))};
  }
  std::string other = std::string(other_users) + ".";
  if (!name.starts_with(other)) return std::nullopt;
  std::string_view rest = name.substr(other.size());
  auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot + 1 >= rest.size()) return std::nullopt;
  std::string owner(rest.substr(0, dot));
  if (!shareable_name(owner)) return std::nullopt;
  return SharedName{owner, std::string(rest.substr(dot + 1))};
}

bool in_shared_namespace(std::string_view name) {
  for (std::string_view root : {other_users, public_folders})
    if (name == root || (name.size() > root.size() && name.starts_with(root) && name[root.size()] == '.'))
      return true;
  return false;
}

void publish_shares(const std::string& owner, const std::vector<std::string>& folder_dirs) {
  if (!shareable_name(owner)) return;
  std::set<std::string> ids;
  for (auto& d : folder_dirs)
    for (auto& e : read_acl(d))
      if (!e.negative && e.id != "owner" && e.rights) ids.insert(e.id);
  std::string path = conf::path("shares/" + owner);
  if (ids.empty()) {
    ::unlink(path.c_str());
    return;
  }
  std::string text;
  for (auto& i : ids) text += i + "\n";
  // Everyone's sessions read it; the owner's umask (077) must not hide it.
  if (write_file_atomic(path, text, 0644, false)) ::chmod(path.c_str(), 0644);
}

std::vector<std::string> owners_sharing_with(const Identity& who) {
  std::vector<std::string> out;
  std::string dir = conf::path("shares");
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d))
    if (shareable_name(e->d_name) && who.user != e->d_name) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& owner : names) {
    struct stat st {};
    std::string path = dir + "/" + owner;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!conf::single_user) {
      const struct passwd* pw = ::getpwnam(owner.c_str());
      if (!pw || pw->pw_uid != st.st_uid) continue;
    }
    auto text = read_regular_file(path, 1 << 16);
    if (!text) continue;
    // Each line an identifier: read as an ACL granting it "l", so the
    // same matching decides whom it names.
    std::string as_acl;
    for (std::size_t i = 0; i < text->size();) {
      std::size_t j = text->find('\n', i);
      if (j == std::string::npos) j = text->size();
      as_acl += text->substr(i, j - i) + " l\n";
      i = j + 1;
    }
    std::vector<AclEntry> acl = parse_acl(as_acl);
    if (rights_for(acl, who)) out.push_back(owner);
  }
  return out;
}

}  // namespace postern::imap
