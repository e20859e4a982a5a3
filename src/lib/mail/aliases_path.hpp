// aliases_path: where the aliases file is: the first line of
// control/aliases, /etc/aliases by default. Its database is the same path
// with ".cdb" added.
#pragma once
#include <optional>
#include <string>

#include "mail/control.hpp"

namespace postern::aliases {

// nullopt when control/aliases exists but cannot be read.
inline std::optional<std::string> file_path() { return control::line("aliases", "/etc/aliases"); }

}  // namespace postern::aliases
