// urlauth: URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524) of
// imapd-mailbox: GENURLAUTH signs an IMAP URL of the user's own message
// with the mailbox's secret key, URLFETCH gives back what a signed URL
// names (in RFC 5524's extended form also decoded, BINARY, and with the
// part's BODYPARTSTRUCTURE), RESETKEY makes a mailbox's (or every) signed
// URL invalid. The keys are 32 random bytes (libsodium) per mailbox, in
// postern-urlauth at the Maildir's root (mode 0600, the user's alone;
// Dovecot ignores the file), each bound to the folder's UIDVALIDITY, so a
// folder deleted and made again (or whose UIDs were reset) has none of
// the old URLs valid; the file is changed only under its dot-lock and
// replaced atomically. A token is HMAC-SHA256 (libsodium) of the URL up to
// its access identifier, compared in constant time. URLs come from the
// network (parse_imap_url); only the INTERNAL mechanism and the access
// identifiers authuser, anonymous and user+<this login> are honoured here
// (submit+ needs a submission server that fetches). Writes untagged
// GENURLAUTH/URLFETCH responses; a URL that fails is NIL in URLFETCH and
// NO in GENURLAUTH. See imapd(8) and imapd-mailbox(8).
#include <sodium.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "imap/imap_dotlock.hpp"
#include "imap/imap_fetch_data.hpp"
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

struct Key {
  std::string box;
  std::uint32_t uidvalidity;
  std::string hex;
};

// "mailbox\tuidvalidity\tkeyhex" lines. Lines of other forms (the
// "mailbox\tkeyhex" of earlier versions, bound to no UIDVALIDITY) are
// dropped: their URLs stop working rather than outlive their folder.
std::vector<Key> read_keys(const std::string& root) {
  std::vector<Key> out;
  auto text = read_folder_file(root + "/" + key_file, 1 << 20);  // a FIFO here must not hang the session
  if (!text) return out;
  std::size_t at = 0;
  while (at < text->size()) {
    auto nl = text->find('\n', at);
    std::string line = text->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text->size() : nl + 1;
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos || line.size() - t2 - 1 != 2 * crypto_auth_hmacsha256_KEYBYTES) continue;
    char* end = nullptr;
    std::string v = line.substr(t1 + 1, t2 - t1 - 1);
    unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (v.empty() || *end || n == 0 || n > 0xffffffffUL) continue;
    out.push_back({line.substr(0, t1), static_cast<std::uint32_t>(n), line.substr(t2 + 1)});
  }
  return out;
}

// Changes the key file under its dot-lock (Dovecot's kind, as for
// dovecot-uidlist), so two sessions' GENURLAUTH or RESETKEY at once
// cannot drop each other's keys; the file is replaced atomically, so
// readers need no lock. change returns false to leave the file as it is.
template <class F>
bool change_keys(const std::string& root, F change) {
  Dotlock lock(root + "/" + key_file, 30, 32);
  if (!lock.ok()) return false;
  auto keys = read_keys(root);
  if (!change(keys)) return true;
  std::string text;
  for (auto& k : keys) text += k.box + "\t" + std::to_string(k.uidvalidity) + "\t" + k.hex + "\n";
  bool ok = write_file_atomic(root + "/" + key_file, text, 0600);
  secret::wipe(text);
  for (auto& k : keys) secret::wipe(k.hex);
  return ok;
}

std::string to_hex(const unsigned char* b, std::size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b, n);
  out.pop_back();
  return out;
}

// The key of a stored mailbox name as it is now (its UIDVALIDITY); made
// (and saved) when create is true. A key of the name's earlier folder is
// never returned, and is replaced when a new one is made.
std::optional<std::string> mailbox_key(const std::string& root, const std::string& box, std::uint32_t uidvalidity,
                                       bool create) {
  for (auto& k : read_keys(root))
    if (k.box == box && k.uidvalidity == uidvalidity) return k.hex;
  if (!create) return std::nullopt;
  std::optional<std::string> out;
  bool ok = change_keys(root, [&](std::vector<Key>& keys) {
    for (auto& k : keys)
      if (k.box == box && k.uidvalidity == uidvalidity) {  // another session made it meanwhile
        out = k.hex;
        return false;
      }
    std::erase_if(keys, [&](const Key& k) { return k.box == box; });
    unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
    crypto_auth_hmacsha256_keygen(key);
    out = to_hex(key, sizeof key);
    sodium_memzero(key, sizeof key);
    keys.push_back({box, uidvalidity, *out});
    return true;
  });
  if (!ok) return std::nullopt;
  return out;
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
  auto stored = stored_name(root, u.mailbox);
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
    std::string badurl = "[BADURL " + log::printable(*url, 200) + "] ";
    auto u = parse_imap_url(*url);
    if (!u || u->access.empty() || !u->token.empty()) return no(c.tag, badurl + "Bad URLAUTH URL");
    if (!u->expire.empty() && expired(u->expire)) return no(c.tag, badurl + "The URL has expired");
    auto box = own_mailbox(*u, root_);
    if (!box) return no(c.tag, badurl + "Not this user's mailbox");
    // As Dovecot: only a URL that names a message there now (UIDVALIDITY
    // and UID) is signed.
    auto target = url_target(*u);
    if (!target) return no(c.tag, badurl + "No such message");
    auto key = mailbox_key(root_, *box, target->uidvalidity, true);
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
    if (!change_keys(root_, [](std::vector<Key>& keys) {
          keys.clear();
          return true;
        }))
      return no(c.tag, "[SERVERBUG] Cannot reset the keys");
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
  if (!change_keys(root_, [&](std::vector<Key>& keys) { return std::erase_if(keys, [&](auto& k) { return k.box == n; }) > 0; }))
    return no(c.tag, "[SERVERBUG] Cannot reset the key");
  ok(c.tag, "RESETKEY completed");
}

std::optional<Session::UrlTarget> Session::urlauth_target(const ImapUrl& u) {
  if (u.access.empty() || u.mechanism != "INTERNAL" || u.token.empty()) return std::nullopt;
  std::string me = login_name();
  std::string access = upper(u.access);
  if (!(access == "AUTHUSER" || access == "ANONYMOUS" || (access.starts_with("USER+") && u.access.substr(5) == me)))
    return std::nullopt;
  if (!u.expire.empty() && expired(u.expire)) return std::nullopt;
  auto box = own_mailbox(u, root_);
  std::optional<UrlTarget> target;
  std::optional<std::string> key;
  if (box) target = url_target(u);
  if (target) key = mailbox_key(root_, *box, target->uidvalidity, false);
  std::string base = u.rump + ";URLAUTH=" + u.access;
  if (!key) {
    // RFC 4467 7: a token is worked out all the same (with a key made up
    // here), so the time taken does not tell which mailboxes exist.
    unsigned char k[crypto_auth_hmacsha256_KEYBYTES];
    crypto_auth_hmacsha256_keygen(k);
    (void)token_of(to_hex(k, sizeof k), base);
    sodium_memzero(k, sizeof k);
    return std::nullopt;
  }
  std::string token = u.token;
  for (char& ch : token) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!secret::equal(token_of(*key, base), token)) return std::nullopt;
  return target;
}

namespace {

// One URLFETCH argument: a URL, or RFC 5524's "(" url *(SP param) ")".
struct FetchArg {
  std::string url;
  bool extended = false, body = false, binary = false, structure = false;
};

// The part BODYPARTSTRUCTURE describes (as Dovecot picks it): the message
// for no part number, else the numbered part, or for HEADER/TEXT of a
// part the message it holds; null when there is no such part.
const Part* structure_part(const Message& m, const Section& s) {
  if (s.path.empty()) return &m.root();
  const Part* node = m.find(s.path);
  if (!node || s.spec.empty() || s.spec == "MIME") return node;
  if (!node->rfc822() || node->parts.empty()) return nullptr;
  return &node->parts[0];
}

}  // namespace

void Session::cmd_urlfetch(Cmd& c) {
  Parser& p = c.p;
  std::vector<FetchArg> args;
  for (;;) {
    FetchArg a;
    if (p.accept('(')) {
      a.extended = true;
      auto url = p.astring();
      if (!url) return bad(c.tag, "Bad arguments");
      a.url = *url;
      while (p.sp()) {
        auto param = p.atom();
        std::string u = param ? upper(*param) : "";
        if (u == "BODY") a.body = true;
        else if (u == "BINARY") a.binary = true;
        else if (u == "BODYPARTSTRUCTURE") a.structure = true;
        else return bad(c.tag, "Unknown URLFETCH parameter");
      }
      if (!p.accept(')')) return bad(c.tag, "Bad arguments");
      if (a.body && a.binary) return bad(c.tag, "BODY and BINARY cannot both be asked for");
      if (!a.binary && !a.structure) a.body = true;
    } else {
      auto url = p.astring();
      if (!url) return bad(c.tag, "Bad arguments");
      a.url = *url;
      a.body = true;
    }
    args.push_back(std::move(a));
    if (args.size() > max_urls) return no(c.tag, "[LIMIT] Too many URLs");
    if (p.eol()) break;
    if (!p.sp()) return bad(c.tag, "Bad arguments");
  }
  for (auto& a : args) {
    auto u = parse_imap_url(a.url);
    std::optional<UrlTarget> t;
    if (u) t = urlauth_target(*u);
    const Part* part = t && a.structure ? structure_part(t->msg, t->sec) : nullptr;
    io_.put("* URLFETCH " + quote(a.url) + " ");
    if (!t || (a.structure && !part)) {
      log::line("{}: URLFETCH of a URL that names nothing", who_);
      io_.put("NIL\r\n");
      continue;
    }
    auto partial = [&](std::string data) {
      if (!u->partial) return data;
      if (u->partial_offset >= data.size()) return std::string();
      return data.substr(u->partial_offset, u->partial_length ? u->partial_length : std::string::npos);
    };
    if (!a.extended) {
      send_literal(partial(t->msg.section(t->sec)));
      io_.put("\r\n");
      continue;
    }
    io_.put("(");
    if (part) {
      std::string bps = a.binary ? binary_structure(t->msg, *part) : t->msg.part_structure(*part);
      io_.put("BODYPARTSTRUCTURE " + bps + (a.body || a.binary ? " " : ""));
    }
    if (a.body) {
      io_.put("BODY ");
      send_literal(partial(t->msg.section(t->sec)));
    } else if (a.binary) {
      // RFC 5524: BINARY NIL when the part cannot be decoded.
      Binary b = binary_of(t->msg, t->sec);
      if (b.error != BinaryError::none) {
        log::line("{}: URLFETCH BINARY of a part that cannot be decoded", who_);
        io_.put("BINARY NIL");
      } else {
        std::string data = partial(std::move(b.data));
        io_.put(b.decoded || data.find('\0') != std::string::npos ? "BINARY ~" : "BINARY ");
        send_literal(data);
      }
    }
    io_.put(")\r\n");
  }
  ok(c.tag, "URLFETCH completed");
}

}  // namespace imapd
