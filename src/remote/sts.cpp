// sts: see sts.hpp.
//
// The cache file holds "id ID", "expires SECONDS-SINCE-1970", an empty
// line, and the policy text as it was served, parsed again on each read
// by the same parser that took it from the network, so a damaged cache
// file is no policy, never a wrong one.
#include "sts.hpp"

#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <vector>

#include "base/io.hpp"
#include "curl_library.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "mail/address.hpp"
#include "mail/conf.hpp"
#include "mail/dns_txt.hpp"

namespace postern::remote {

namespace {

constexpr std::size_t max_policy = 64 * 1024;

struct Cached {
  std::string id;
  std::time_t expires = 0;
  StsPolicy policy;
};

// The cache file of domain, or "" when the name could not be a file name.
std::string cache_path(const std::string& domain) {
  return plain_domain_name(domain) ? conf::path("queue/mtasts/" + domain) : "";
}

std::optional<Cached> read_cache(const std::string& path) {
  if (path.empty()) return std::nullopt;
  auto text = read_regular_file(path, max_policy + 1024);
  if (!text) return std::nullopt;
  auto blank = text->find("\n\n");
  if (blank == std::string::npos) return std::nullopt;
  Cached c;
  for (auto& line : split(text->substr(0, blank), '\n')) {
    if (line.compare(0, 3, "id ") == 0) c.id = line.substr(3);
    if (line.compare(0, 8, "expires ") == 0) {
      auto n = to_number(line.substr(8));
      if (n) c.expires = static_cast<std::time_t>(*n);
    }
  }
  auto policy = parse_sts_policy(std::string_view(*text).substr(blank + 2));
  if (c.id.empty() || !policy) return std::nullopt;
  c.policy = *policy;
  return c;
}

void write_cache(const std::string& path, const std::string& id, const StsPolicy& policy, const std::string& text) {
  if (path.empty()) return;
  std::string data = "id " + id + "\nexpires " + std::to_string(std::time(nullptr) + policy.max_age) + "\n\n" + text;
  // Not durable: a lost cache file costs one fetch.
  if (!write_file_atomic(path, data, 0640, false))
    log::line("unable to write the MTA-STS cache {}: {}", path, std::strerror(errno));
}

size_t take_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  std::size_t n = size * count;
  if (body->size() + n > max_policy) return 0;  // too big: the transfer fails
  body->append(data, n);
  return n;
}

// The policy text served for domain, or nullopt with why.
std::optional<std::string> fetch(const std::string& domain, int timeout, std::string& why) {
  const CurlLibrary* c = curl_library(why);
  if (!c) return std::nullopt;
  CURL* curl = c->easy_init();
  if (!curl) {
    why = "unable to start libcurl";
    return std::nullopt;
  }
  std::string url = "https://mta-sts." + domain + "/.well-known/mta-sts.txt";
  std::string body;
  char error[CURL_ERROR_SIZE] = "";
  c->easy_setopt(curl, CURLOPT_URL, url.c_str());
  c->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  c->easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // RFC 8461 3.3: no redirects
  c->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  c->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min(timeout, 60)));
  c->easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  c->easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  c->easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  c->easy_setopt(curl, CURLOPT_CAPATH, "/etc/ssl/certs");
  std::string private_cas = conf::path("control/tlsremoteca");
  struct stat st;
  if (::stat(private_cas.c_str(), &st) == 0) c->easy_setopt(curl, CURLOPT_CAINFO, private_cas.c_str());
  c->easy_setopt(curl, CURLOPT_USERAGENT, "postern remote (MTA-STS)");
  c->easy_setopt(curl, CURLOPT_WRITEFUNCTION, take_body);
  c->easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  c->easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = c->easy_perform(curl);
  long status = 0;
  char* type = nullptr;
  c->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  c->easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  std::string content_type = type ? lower(type) : "";
  c->easy_cleanup(curl);
  if (rc != CURLE_OK) {
    why = url + ": " + (error[0] ? error : c->easy_strerror(rc));
    return std::nullopt;
  }
  if (status != 200) {
    why = url + ": HTTP status " + std::to_string(status);
    return std::nullopt;
  }
  if (content_type.compare(0, 10, "text/plain") != 0) {
    why = url + ": the media type is not text/plain";
    return std::nullopt;
  }
  return body;
}

}  // namespace

StsLookup sts_policy_for(const std::string& domain, int timeout) {
  StsLookup out;
  std::string path = cache_path(domain);
  auto cached = read_cache(path);
  std::time_t now = std::time(nullptr);
  if (cached && cached->expires <= now) cached.reset();
  auto txts = dns_txt::lookup("_mta-sts." + domain);
  std::optional<std::string> id = txts ? sts_id_of(*txts) : std::nullopt;
  if (!id) {
    // No record (or no answer): a policy still cached stays in force.
    if (cached) {
      out.policy = cached->policy;
      out.note = txts ? "cached (no TXT record now)" : "cached (TXT lookup failed)";
    }
    return out;
  }
  if (cached && cached->id == *id) {
    out.policy = cached->policy;
    out.note = "cached";
    return out;
  }
  std::string why;
  auto text = fetch(domain, timeout, why);
  std::optional<StsPolicy> policy = text ? parse_sts_policy(*text) : std::nullopt;
  if (text && !policy) why = "the policy of " + domain + " does not parse";
  if (!policy) {
    if (cached) out.policy = cached->policy;
    else out.failure = text ? "sts-policy-invalid" : "sts-policy-fetch-error";
    out.note = (cached ? "cached (fetch failed: " : "none (fetch failed: ") + why + ")";
    return out;
  }
  write_cache(path, *id, *policy, *text);
  out.policy = policy;
  out.note = "fetched, id " + *id;
  return out;
}

}  // namespace postern::remote
