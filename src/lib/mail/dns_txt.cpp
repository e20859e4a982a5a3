// dns_txt: see dns_txt.hpp.
#include "mail/dns_txt.hpp"

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include "base/strings.hpp"

namespace postern::dns_txt {

std::optional<std::vector<std::string>> parse_answer(const unsigned char* answer, int length) {
  ns_msg msg;
  if (length < 0 || ns_initparse(answer, length, &msg) != 0) return std::nullopt;
  std::vector<std::string> out;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) return std::nullopt;
    if (ns_rr_type(rr) != ns_t_txt) continue;
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    std::string text;
    while (p < end) {
      std::size_t n = *p++;
      if (n > static_cast<std::size_t>(end - p)) return std::nullopt;
      text.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
    out.push_back(std::move(text));
  }
  return out;
}

std::optional<std::vector<std::string>> lookup(const std::string& name) {
  // The largest DNS message there is; res_query's length is clamped to
  // the buffer, so a longer answer is parsed only as far as it was kept.
  std::vector<unsigned char> answer(65536);
  int n = res_query(name.c_str(), ns_c_in, ns_t_txt, answer.data(), static_cast<int>(answer.size()));
  if (n > static_cast<int>(answer.size())) n = static_cast<int>(answer.size());
  if (n < 0) {
    if (h_errno == HOST_NOT_FOUND || h_errno == NO_DATA) return std::vector<std::string>{};
    return std::nullopt;
  }
  return parse_answer(answer.data(), n);
}

std::optional<std::vector<std::pair<std::string, std::string>>> tagged_fields(std::string_view txt,
                                                                               std::string_view version) {
  std::vector<std::pair<std::string, std::string>> out;
  bool first = true;
  while (!txt.empty()) {
    auto semi = txt.find(';');
    std::string_view field = trim(txt.substr(0, semi));
    txt = semi == std::string_view::npos ? std::string_view{} : txt.substr(semi + 1);
    if (field.empty()) {
      if (first) return std::nullopt;
      continue;
    }
    auto eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = trim(field.substr(0, eq)), value = trim(field.substr(eq + 1));
    if (first) {
      if (key != "v" || value != version) return std::nullopt;
      first = false;
      continue;
    }
    out.emplace_back(key, value);
  }
  if (first) return std::nullopt;
  return out;
}

}  // namespace postern::dns_txt
