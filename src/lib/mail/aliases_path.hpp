// aliases_path: where the aliases file is: the first line of
// control/aliases, /etc/aliases by default. Its database is the same path
// with ".cdb" added.
#pragma once
#include <optional>
#include <string>

#include "mail/control.hpp"

namespace postern::aliases {

inline constexpr const char* default_file = "/etc/aliases";

// nullopt when control/aliases exists but cannot be read (why then says so).
inline std::optional<std::string> file_path() { return control::line("aliases", default_file); }
inline std::optional<std::string> file_path(std::string& why) { return control::line("aliases", default_file, why); }

}  // namespace postern::aliases
