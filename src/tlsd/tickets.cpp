// tickets: the session ticket keys every tlsd process shares, so a client
// resumes its session on the next connection (a new tlsd each time).
// conf-home/tls/ticketkeys, readable only by the TLS user, holds one key a
// line, oldest first: "<created, unix seconds> <hex: 16 bytes name, 32
// AES-256 key, 32 HMAC-SHA256 key>". The newest key encrypts new tickets;
// the previous one still decrypts (and its tickets are renewed). When the
// newest is 12 hours old, the tlsd that notices adds a new key and drops
// all but the two newest, under an flock on tls/lock, writing the file
// atomically. Keys come from OpenSSL's RAND_bytes. Trusts the file (only
// tlsd writes it); a line that does not parse is skipped.
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <sstream>
#include <vector>

#include "base/io.hpp"
#include "base/log.hpp"
#include "mail/conf.hpp"
#include "tlsd.hpp"

namespace postern::tlsd {

namespace {

constexpr long rotate_seconds = 12 * 3600;
constexpr std::size_t keep = 2;

struct Key {
  long created = 0;
  unsigned char name[16], aes[32], hmac[32];
};
std::vector<Key> keys;  // oldest first

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool parse_key(const std::string& line, Key& k) {
  std::istringstream in(line);
  std::string hex;
  if (!(in >> k.created >> hex) || hex.size() != 160) return false;
  unsigned char raw[80];
  for (std::size_t i = 0; i < 80; ++i) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    raw[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  std::memcpy(k.name, raw, 16);
  std::memcpy(k.aes, raw + 16, 32);
  std::memcpy(k.hmac, raw + 48, 32);
  return true;
}

std::string format_keys() {
  std::string out;
  static const char digits[] = "0123456789abcdef";
  for (const Key& k : keys) {
    out += std::to_string(k.created) + " ";
    for (const unsigned char* part : {k.name, k.aes, k.hmac}) {
      std::size_t n = part == k.name ? 16 : 32;
      for (std::size_t i = 0; i < n; ++i) {
        out += digits[part[i] >> 4];
        out += digits[part[i] & 15];
      }
    }
    out += "\n";
  }
  return out;
}

bool set_mac(EVP_MAC_CTX* hctx, unsigned char* key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

int ticket_callback(SSL*, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
  if (keys.empty()) return enc ? -1 : 0;
  if (enc) {
    Key& k = keys.back();
    if (RAND_bytes(iv, 16) != 1) return -1;
    std::memcpy(name, k.name, 16);
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1 || !set_mac(hctx, k.hmac)) return -1;
    return 1;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    Key& k = keys[i];
    if (std::memcmp(name, k.name, 16) != 0) continue;
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1 || !set_mac(hctx, k.hmac)) return -1;
    // An older key: the session resumes and gets a ticket under the newest.
    return i + 1 == keys.size() ? 1 : 2;
  }
  return 0;  // unknown key (rotated away): a full handshake
}

}  // namespace

bool load_ticket_keys() {
  std::string dir = conf::path("tls");
  Fd lock(::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock.ok() || ::flock(lock.get(), LOCK_EX) != 0) {
    log::line("warning: {}/lock: {}; no session tickets", dir, std::strerror(errno));
    return false;
  }
  std::string path = dir + "/ticketkeys";
  keys.clear();
  if (auto text = read_file(path, 64 * 1024)) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      Key k;
      if (parse_key(line, k)) keys.push_back(k);
    }
  }
  long now = static_cast<long>(std::time(nullptr));
  // A key from the future (a clock set back) also counts as due.
  if (keys.empty() || now - keys.back().created >= rotate_seconds || keys.back().created > now + 3600) {
    Key k;
    k.created = now;
    if (RAND_bytes(k.name, 16) != 1 || RAND_bytes(k.aes, 32) != 1 || RAND_bytes(k.hmac, 32) != 1) {
      log::line("warning: no randomness for a ticket key; no session tickets");
      keys.clear();
      return false;
    }
    keys.push_back(k);
    if (keys.size() > keep) keys.erase(keys.begin(), keys.end() - keep);
    if (!write_file_atomic(path, format_keys(), 0600)) {
      log::line("warning: cannot write {}: {}; no session tickets", path, std::strerror(errno));
      keys.clear();
      return false;
    }
  }
  return true;
}

void use_tickets(SSL_CTX* ctx) {
  if (keys.empty()) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    return;
  }
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback);
  SSL_CTX_set_num_tickets(ctx, 1);
  // A ticket is good while its key is: at most two rotations.
  SSL_CTX_set_timeout(ctx, 2 * rotate_seconds);
}

}  // namespace postern::tlsd
