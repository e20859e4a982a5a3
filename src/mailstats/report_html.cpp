// report_html: the report as one self-contained HTML page (report.hpp):
// inline CSS, two inline SVG charts (messages in and out as bars, delay
// percentiles as lines, per hour or per day), then the same tables as the
// text report. No script and no external file, so it can be mailed or
// opened anywhere. Every piece of log text is escaped: addresses and
// reasons come from the network.
#include <fmt/format.h>

#include <algorithm>

#include "report.hpp"

namespace postern::mailstats {

namespace {

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += static_cast<unsigned char>(c) < 32 || c == 127 ? '?' : c;
    }
  }
  return out;
}

constexpr double chart_w = 900, chart_h = 240, left = 90, bottom = 50, top_gap = 20;

// The frame of a chart: axes, the top value on the y axis, a few x labels.
std::string frame(const std::vector<ChartPoint>& pts, double ymax, const std::string& unit) {
  std::string s = fmt::format(
      "<line x1='{0}' y1='{1}' x2='{2}' y2='{1}' stroke='#444'/><line x1='{0}' y1='{3}' x2='{0}' y2='{1}' "
      "stroke='#444'/>",
      left, chart_h - bottom, chart_w - 10, top_gap);
  s += fmt::format("<text x='{}' y='{}' font-size='11' text-anchor='end'>{} {}</text>", left - 4, top_gap + 4,
                   esc(format_seconds(ymax)), esc(unit));
  s += fmt::format("<text x='{}' y='{}' font-size='11' text-anchor='end'>0</text>", left - 4, chart_h - bottom);
  double step = (chart_w - 10 - left) / static_cast<double>(pts.size());
  std::size_t every = (pts.size() + 7) / 8;  // at most 8 labels, so they never overlap
  for (std::size_t i = 0; i < pts.size(); i += every)
    s += fmt::format("<text x='{:.1f}' y='{}' font-size='10' text-anchor='middle'>{}</text>",
                     left + step * (static_cast<double>(i) + 0.5), chart_h - bottom + 14, esc(pts[i].label));
  return s;
}

std::string svg_open(const std::string& title) {
  return fmt::format("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {} {}' width='{}' height='{}' "
                     "role='img'><title>{}</title>",
                     chart_w, chart_h, chart_w, chart_h, esc(title));
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string s;
  double x = left;
  for (auto& [name, colour] : items) {
    s += fmt::format("<rect x='{}' y='{}' width='10' height='10' fill='{}'/><text x='{}' y='{}' "
                     "font-size='11'>{}</text>",
                     x, chart_h - 18, colour, x + 14, chart_h - 9, esc(name));
    x += 120;
  }
  return s;
}

std::string traffic_chart(const Report& r) {
  std::uint64_t ymax = 1;
  for (auto& p : r.chart) ymax = std::max({ymax, p.in, p.out});
  auto title = std::string("Messages per ") + (r.chart_by_day ? "day" : "hour") + ", in and out";
  std::string s = svg_open(title) + frame(r.chart, static_cast<double>(ymax), "msgs");
  double step = (chart_w - 10 - left) / static_cast<double>(r.chart.size());
  double bar = std::max(0.5, step * 0.4), scale = (chart_h - bottom - top_gap) / static_cast<double>(ymax);
  for (std::size_t i = 0; i < r.chart.size(); ++i) {
    double x = left + step * static_cast<double>(i) + step * 0.1;
    auto& p = r.chart[i];
    double hin = static_cast<double>(p.in) * scale, hout = static_cast<double>(p.out) * scale;
    s += fmt::format("<rect class='in' x='{:.2f}' y='{:.2f}' width='{:.2f}' height='{:.2f}' fill='#3a7bd5'>"
                     "<title>{}: {} in</title></rect>",
                     x, chart_h - bottom - hin, bar, hin, esc(p.label), p.in);
    s += fmt::format("<rect class='out' x='{:.2f}' y='{:.2f}' width='{:.2f}' height='{:.2f}' fill='#f0a030'>"
                     "<title>{}: {} out</title></rect>",
                     x + bar, chart_h - bottom - hout, bar, hout, esc(p.label), p.out);
  }
  return "<h2>" + esc(title) + "</h2>\n" + s + legend({{"received", "#3a7bd5"}, {"delivered", "#f0a030"}}) +
         "</svg>\n";
}

std::string delay_chart(const Report& r) {
  double ymax = 0.01;
  for (auto& p : r.chart)
    if (p.has_delays) ymax = std::max(ymax, p.p99);
  auto title = std::string("Delivery delay percentiles per ") + (r.chart_by_day ? "day" : "hour");
  std::string s = svg_open(title) + frame(r.chart, ymax, "s");
  double step = (chart_w - 10 - left) / static_cast<double>(r.chart.size());
  double scale = (chart_h - bottom - top_gap) / ymax;
  const std::pair<const char*, const char*> lines[] = {{"50%", "#2a9d4a"}, {"90%", "#e09020"}, {"99%", "#c03030"}};
  for (std::size_t l = 0; l < 3; ++l) {
    std::string points;
    for (std::size_t i = 0; i < r.chart.size(); ++i) {
      auto& p = r.chart[i];
      if (!p.has_delays) continue;
      double v = l == 0 ? p.p50 : l == 1 ? p.p90 : p.p99;
      points += fmt::format("{:.2f},{:.2f} ", left + step * (static_cast<double>(i) + 0.5), chart_h - bottom - v * scale);
    }
    s += fmt::format("<polyline class='p{}' fill='none' stroke='{}' stroke-width='2' points='{}'/>",
                     lines[l].first, lines[l].second, points);
  }
  return "<h2>" + esc(title) + "</h2>\n" + s +
         legend({{"50%", lines[0].second}, {"90%", lines[1].second}, {"99%", lines[2].second}}) + "</svg>\n";
}

std::string table(const Section& s) {
  std::string out = "<h2>" + esc(s.title) + "</h2>\n";
  if (s.rows.empty()) return out + "<p>(none)</p>\n";
  out += "<table>\n<tr>";
  for (auto& h : s.header) out += "<th>" + esc(h) + "</th>";
  out += "</tr>\n";
  for (auto& row : s.rows) {
    out += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c)
      out += (c == 0 ? "<td>" : "<td class='n'>") + esc(row[c]) + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::string render_html(const Report& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>" + esc(r.title) +
      "</title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\n"
      "table{border-collapse:collapse;margin-bottom:1em}\n"
      "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\ntd.n{text-align:right;"
      "font-variant-numeric:tabular-nums}\nh2{font-size:1.1em;margin-top:1.5em}\n</style>\n</head>\n<body>\n<h1>" +
      esc(r.title) + "</h1>\n";
  if (!r.chart.empty()) out += traffic_chart(r) + delay_chart(r);
  for (auto& s : r.sections) out += table(s);
  out += "<h2>Notes</h2>\n<ul>\n";
  for (auto& n : r.notes) out += "<li>" + esc(n) + "</li>\n";
  return out + "</ul>\n</body>\n</html>\n";
}

}  // namespace postern::mailstats
