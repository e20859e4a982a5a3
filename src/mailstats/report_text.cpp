// report_text: the plain text report (report.hpp), pflogsumm's way: a
// section a block, numbers right-aligned first, the name last so that long
// addresses and reasons do not push the numbers apart. Control bytes of log
// text become '?', so a report shown on a terminal cannot drive it.
#include <fmt/format.h>

#include <algorithm>

#include "report.hpp"

namespace postern::mailstats {

namespace {

std::string clean(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
  return out;
}

void render_section(const Section& s, std::string& out) {
  out += "\n" + s.title + "\n" + std::string(s.title.size(), '-') + "\n";
  if (s.rows.empty()) {
    out += "(none)\n";
    return;
  }
  std::vector<std::size_t> width(s.header.size(), 0);
  for (std::size_t c = 1; c < s.header.size(); ++c) {
    width[c] = s.header[c].size();
    for (auto& row : s.rows) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t c = 1; c < cells.size(); ++c) text += fmt::format("{:>{}}  ", cells[c], width[c]);
    text += clean(cells[0]);
    while (text.ends_with(' ')) text.pop_back();
    out += text + "\n";
  };
  line(s.header);
  for (auto& row : s.rows) line(row);
}

}  // namespace

std::string render_text(const Report& r) {
  std::string out = r.title + "\n" + std::string(r.title.size(), '=') + "\n";
  for (auto& s : r.sections) render_section(s, out);
  out += "\nNotes\n-----\n";
  for (auto& n : r.notes) out += "* " + n + "\n";
  return out;
}

}  // namespace postern::mailstats
