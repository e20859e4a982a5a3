// dot_qmail: the pure parts of dot-qmail(5): which .qmail file names to try
// for an address extension, and what each line of one asks for. No file is
// opened here; local does that, so these rules can be unit-tested alone.
//
// Input is the recipient's extension (from the network, via send and
// lspawn) and the text of a user's .qmail file: neither is trusted. An
// extension never becomes a path component that could leave the home
// directory: '.' becomes ':' and '/' is refused.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::dot_qmail {

struct Candidate {
  std::string name;  // ".qmail-joe-list", relative to the home directory
  // For a "-default" file, the part of the extension it stands for (the
  // DEFAULT variable, in the extension's original case); nullopt otherwise.
  std::optional<std::string> default_part;
};

// The files to look for, in order. For dash "-" and ext "a-b-c":
// .qmail-a-b-c, .qmail-a-b-default, .qmail-a-default, .qmail-default.
// For an empty dash only ".qmail" + ext. The extension is lowercased and
// '.' becomes ':' in the names. nullopt when ext contains '/' (or a NUL).
std::optional<std::vector<Candidate>> candidates(std::string_view dash, std::string_view ext);

enum class Kind {
  program,  // |command
  maildir,  // /path/ or ./path/ (ends in '/')
  mbox,     // /path or ./path
  forward,  // &address, or a line starting with a letter or digit
  invalid,  // anything else: the user's mistake, reported, never guessed at
};

struct Line {
  Kind kind;
  std::string value;  // the command, path or address
};

// Parses the text of a .qmail file (or DEFAULTDELIVERY): one instruction a
// line; '#' comments and empty lines are skipped. Trailing spaces, tabs and
// CRs are removed from every line (editors leave them; file names and
// addresses never end in them); a forward loses leading white space too.
std::vector<Line> parse(std::string_view text);

// The variables of qmail-command(8) derived from the address:
// ext_part("a-b-c", 1) == "b-c" (EXT2); host_part("mx.a.example", 1) ==
// "mx.a" (HOST2). When there are not enough parts, EXTn is empty and HOSTn
// is what is left.
std::string ext_part(std::string_view ext, int drop);
std::string host_part(std::string_view host, int drop);

}  // namespace postern::dot_qmail
