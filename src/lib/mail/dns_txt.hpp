// dns_txt: TXT records (RFC 1035 3.3.14) looked up with the C library's
// resolver (resolv.conf applies), for the policies published in DNS that
// remote and tlsrpt read (MTA-STS's _mta-sts, TLS-RPT's _smtp._tls). The
// answer comes from whoever serves the name: it is parsed with bounds on
// every length and taken whole or not at all.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::dns_txt {

// The texts of the TXT records at name (each record's character-strings
// joined); empty when there are none or the name does not exist; nullopt
// on a DNS failure or a malformed answer.
std::optional<std::vector<std::string>> lookup(const std::string& name);

// The same from a DNS answer in wire form; nullopt when it is malformed.
std::optional<std::vector<std::string>> parse_answer(const unsigned char* answer, int length);

// The fields of a record "v=VERSION; key=value; ..." (the form MTA-STS
// and TLS-RPT publish): fields separated by ';' with blanks around them
// ignored, v first. The fields after v, in order, or nullopt when v is not
// first, is not version, or a field has no '='.
std::optional<std::vector<std::pair<std::string, std::string>>> tagged_fields(std::string_view txt,
                                                                               std::string_view version);

}  // namespace postern::dns_txt
