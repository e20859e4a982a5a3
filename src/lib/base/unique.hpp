// unique: names nobody else will pick: Maildir file names, Message-IDs,
// temporary files. Randomness comes from libsodium.
#pragma once
#include <string>

namespace postern {

// n random bytes as lowercase hex.
std::string random_hex(int n);
// This host's name (gethostname), or "localhost".
std::string host_name();

}  // namespace postern
