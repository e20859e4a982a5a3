// report: turns a Tally into the report's sections (tables of text cells)
// and chart points, which the text and HTML renderers both print, so the
// two reports always hold the same numbers. Trusts the Tally; cells hold
// log text as it was (addresses, reasons): each renderer escapes for its
// own output. Returns strings ready to write.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "tally.hpp"

namespace postern::mailstats {

struct Section {
  std::string title;
  std::vector<std::string> header;             // the first column is text, the others numbers
  std::vector<std::vector<std::string>> rows;  // empty: the report says "none"
};

// One bar pair and one set of delay points on the charts: an hour, or a
// day when the log spans more than three days.
struct ChartPoint {
  std::string label;
  std::uint64_t in = 0, out = 0;
  bool has_delays = false;
  double p50 = 0, p90 = 0, p99 = 0;
};

struct Report {
  std::string title;   // "postern traffic report, FROM to TO"
  std::vector<Section> sections;
  std::vector<std::string> notes;  // footnotes: skipped lines, cut tables
  std::vector<ChartPoint> chart;
  bool chart_by_day = false;
};

Report build_report(const Tally& tally, std::size_t top);
std::string render_text(const Report& report);
std::string render_html(const Report& report);

// A number of seconds with at most two decimals and no trailing zeros.
std::string format_seconds(double s);

}  // namespace postern::mailstats
