// urlauth: URLAUTH (RFC 4467) of imapd-mailbox: GENURLAUTH signs an IMAP
// URL of the user's own message with the mailbox's secret key, URLFETCH
// gives back what a signed URL names, RESETKEY makes a mailbox's (or
// every) signed URL invalid. The keys are 32 random bytes (libsodium) per
// mailbox, in postern-urlauth at the Maildir's root (mode 0600, the user's
// alone; Dovecot ignores the file); a token is HMAC-SHA256 (libsodium) of
// the URL up to its access identifier, compared in constant time. URLs
// come from the network (parse_imap_url); only the INTERNAL mechanism and
// the access identifiers authuser, anonymous and user+<this login> are
// honoured here (submit+ needs a submission server that fetches). Writes
// untagged GENURLAUTH/URLFETCH responses; a URL that fails is NIL in
// URLFETCH and NO in GENURLAUTH. See imapd(8).
#include <sodium.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "imap/imap_url.hpp"
#include "imap/imap_utf7.hpp"
#include "base/io.hpp"
#include "base/log.hpp"
#include "base/secret.hpp"
#include "session.hpp"

namespace imapd {

namespace {

constexpr const char* key_file = "postern-urlauth";
constexpr std::size_t max_urls = 100;  // URLs in one GENURLAUTH or URLFETCH

std::string login_name() {
  const char* u = std::getenv("USER");
  return u ? u : "";
}

// "mailbox\tkeyhex" lines.
std::vector<std::pair<std::string, std::string>> read_keys(const std::string& root) {
  std::vector<std::pair<std::string, std::string>> out;
  auto text = read_file(root + "/" + key_file, 1 << 20);
  if (!text) return out;
  std::size_t at = 0;
  while (at < text->size()) {
    auto nl = text->find('\n', at);
    std::string line = text->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text->size() : nl + 1;
    auto tab = line.find('\t');
    if (tab != std::string::npos && line.size() - tab - 1 == 2 * crypto_auth_hmacsha256_KEYBYTES)
      out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

bool write_keys(const std::string& root, const std::vector<std::pair<std::string, std::string>>& keys) {
  std::string text;
  for (auto& [box, hex] : keys) text += box + "\t" + hex + "\n";
  bool ok = write_file_atomic(root + "/" + key_file, text, 0600);
  secret::wipe(text);
  return ok;
}

std::string to_hex(const unsigned char* b, std::size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b, n);
  out.pop_back();
  return out;
}

// The key of a stored mailbox name; made (and saved) when create is true.
std::optional<std::string> mailbox_key(const std::string& root, const std::string& box, bool create) {
  auto keys = read_keys(root);
  for (auto& [b, hex] : keys)
    if (b == box) return hex;
  if (!create) return std::nullopt;
  unsigned char k[crypto_auth_hmacsha256_KEYBYTES];
  crypto_auth_hmacsha256_keygen(k);
  std::string hex = to_hex(k, sizeof k);
  sodium_memzero(k, sizeof k);
  keys.emplace_back(box, hex);
  if (!write_keys(root, keys)) return std::nullopt;
  return hex;
}

std::string token_of(const std::string& key_hex, const std::string& signed_text) {
  unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
  std::size_t len = 0;
  sodium_hex2bin(key, sizeof key, key_hex.data(), key_hex.size(), nullptr, &len, nullptr);
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), key);
  sodium_memzero(key, sizeof key);
  return to_hex(mac, sizeof mac);
}

// ";EXPIRE=2030-01-02T03:04:05Z" (RFC 3339, UTC or an offset): past?
bool expired(const std::string& when) {
  struct tm tm {};
  const char* end = ::strptime(when.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return true;
  if (*end == '.')
    while (*++end >= '0' && *end <= '9') {
    }
  long off = 0;
  if (*end == '+' || *end == '-') {
    int h = 0, m = 0;
    if (std::sscanf(end + 1, "%2d:%2d", &h, &m) != 2) return true;
    off = (*end == '+' ? 1 : -1) * (h * 3600L + m * 60L);
  } else if (*end != 'Z' && *end != 'z') {
    return true;
  }
  return ::timegm(&tm) - off <= std::time(nullptr);
}

// The stored name of the mailbox a URL names, when it is this user's.
std::optional<std::string> own_mailbox(const ImapUrl& u, const std::string& root) {
  if (u.host.empty() || u.user != login_name()) return std::nullopt;
  auto stored = utf7_encode(u.mailbox);
  if (!stored) return std::nullopt;
  std::string n = canonical(*stored);
  struct stat st {};
  if (!valid_name(n) || ::stat((folder_dir(root, n) + "/cur").c_str(), &st) != 0) return std::nullopt;
  return n;
}

}  // namespace

void Session::cmd_genurlauth(Cmd& c) {
  Parser& p = c.p;
  std::vector<std::string> out;
  for (;;) {
    auto url = p.astring();
    if (!url || !p.sp()) return bad(c.tag, "Bad arguments");
    auto mech = p.atom();
    if (!mech) return bad(c.tag, "Bad mechanism");
    if (upper(*mech) != "INTERNAL") return no(c.tag, "Unknown URLAUTH mechanism");
    auto u = parse_imap_url(*url);
    if (!u || u->access.empty() || !u->token.empty()) return no(c.tag, "[BADURL " + log::printable(*url, 200) + "] Bad URLAUTH URL");
    auto box = own_mailbox(*u, root_);
    if (!box) return no(c.tag, "[BADURL " + log::printable(*url, 200) + "] Not this user's mailbox");
    auto key = mailbox_key(root_, *box, true);
    if (!key) {
      log::line("{}: cannot write {}", who_, key_file);
      return no(c.tag, "[SERVERBUG] Cannot keep the URLAUTH key");
    }
    std::string base = u->rump + ";URLAUTH=" + u->access;
    out.push_back("* GENURLAUTH " + quote(base + ":INTERNAL:" + token_of(*key, base)) + "\r\n");
    if (out.size() > max_urls) return no(c.tag, "[LIMIT] Too many URLs");
    if (p.eol()) break;
    if (!p.sp()) return bad(c.tag, "Bad arguments");
  }
  for (auto& line : out) io_.put(line);
  ok(c.tag, "GENURLAUTH completed");
}

void Session::cmd_resetkey(Cmd& c) {
  Parser& p = c.p;
  if (p.eol()) {
    if (!write_keys(root_, {})) return no(c.tag, "[SERVERBUG] Cannot reset the keys");
    return ok(c.tag, "RESETKEY completed");
  }
  if (!p.sp()) return bad(c.tag, "Bad arguments");
  auto name = p.astring();
  if (!name) return bad(c.tag, "Bad arguments");
  // Mechanisms may follow; INTERNAL is the only one, reset either way.
  while (p.sp())
    if (!p.atom()) return bad(c.tag, "Bad mechanism");
  if (!p.eol()) return bad(c.tag, "Bad arguments");
  std::string n = canonical(mailbox_in(*name));
  struct stat st {};
  if (!valid_name(n) || ::stat((folder_dir(root_, n) + "/cur").c_str(), &st) != 0)
    return no(c.tag, "[NONEXISTENT] No such mailbox");
  auto keys = read_keys(root_);
  std::erase_if(keys, [&](auto& k) { return k.first == n; });
  if (!write_keys(root_, keys)) return no(c.tag, "[SERVERBUG] Cannot reset the key");
  ok(c.tag, "RESETKEY completed");
}

std::optional<std::string> Session::urlauth_content(const std::string& url) {
  auto u = parse_imap_url(url);
  if (!u || u->access.empty() || u->mechanism != "INTERNAL" || u->token.empty()) return std::nullopt;
  std::string me = login_name();
  std::string access = upper(u->access);
  if (!(access == "AUTHUSER" || access == "ANONYMOUS" || (access.starts_with("USER+") && u->access.substr(5) == me)))
    return std::nullopt;
  if (!u->expire.empty() && expired(u->expire)) return std::nullopt;
  auto box = own_mailbox(*u, root_);
  if (!box) return std::nullopt;
  auto key = mailbox_key(root_, *box, false);
  if (!key) return std::nullopt;
  std::string base = u->rump + ";URLAUTH=" + u->access;
  std::string token = u->token;
  for (char& ch : token) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!secret::equal(token_of(*key, base), token)) return std::nullopt;
  // What the URL names, as CATENATE would fetch it.
  std::string rel = u->rump.substr(u->rump.find('/', 7));
  return url_content(rel);
}

void Session::cmd_urlfetch(Cmd& c) {
  Parser& p = c.p;
  std::vector<std::string> urls;
  for (;;) {
    auto url = p.astring();
    if (!url) return bad(c.tag, "Bad arguments");
    urls.push_back(*url);
    if (urls.size() > max_urls) return no(c.tag, "[LIMIT] Too many URLs");
    if (p.eol()) break;
    if (!p.sp()) return bad(c.tag, "Bad arguments");
  }
  for (auto& url : urls) {
    auto data = urlauth_content(url);
    io_.put("* URLFETCH " + quote(url) + " ");
    if (data) {
      send_literal(*data);
    } else {
      log::line("{}: URLFETCH of a URL that names nothing", who_);
      io_.put("NIL");
    }
    io_.put("\r\n");
  }
  ok(c.tag, "URLFETCH completed");
}

}  // namespace imapd
