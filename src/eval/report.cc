#include "eval/report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace pneumo::eval {
namespace {

// Escapes text for HTML and SVG (XML) alike, in element content and in quoted attributes.
std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// Fixed-point with `digits` decimals; "n/a" for NaN or infinity so the page never shows "nan".
std::string Fixed(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

Result<void> WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return Fail(ErrorCode::kIoError, "cannot open report file " + path.string() +
                                         " for writing: " + std::strerror(errno));
  }
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    return Fail(ErrorCode::kIoError,
                "cannot write report file " + path.string() + ": " + std::strerror(errno));
  }
  return {};
}

// A unit-square plot (both axes 0..1) with grid, ticks every 0.2, tick labels and axis titles.
// Callers draw into it through X() and Y(), which map data coordinates to SVG pixels.
class UnitPlot {
 public:
  static constexpr double kLeft = 70, kTop = 45, kSize = 360, kRight = 30, kBottom = 70;
  static constexpr double kWidth = kLeft + kSize + kRight, kHeight = kTop + kSize + kBottom;

  static double X(double x) { return kLeft + std::clamp(x, 0.0, 1.0) * kSize; }
  static double Y(double y) { return kTop + (1.0 - std::clamp(y, 0.0, 1.0)) * kSize; }

  UnitPlot(std::string_view title, std::string_view x_label, std::string_view y_label) {
    svg_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Fixed(kWidth, 0) +
            "\" height=\"" + Fixed(kHeight, 0) + "\" viewBox=\"0 0 " + Fixed(kWidth, 0) + " " +
            Fixed(kHeight, 0) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    svg_ += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg_ += Text(kLeft + kSize / 2, 25, title, "middle", "font-size=\"15\" font-weight=\"bold\"");
    for (int i = 0; i <= 5; ++i) {
      const double v = i / 5.0;
      const std::string label = Fixed(v, 1);
      svg_ +=
          Line(X(v), Y(0), X(v), Y(1), "#e6e6e6", 1) + Line(X(0), Y(v), X(1), Y(v), "#e6e6e6", 1);
      svg_ += Line(X(v), Y(0), X(v), Y(0) + 5, "black", 1) + Text(X(v), Y(0) + 19, label, "middle");
      svg_ += Line(X(0) - 5, Y(v), X(0), Y(v), "black", 1) + Text(X(0) - 8, Y(v) + 4, label, "end");
    }
    svg_ += Line(X(0), Y(0), X(1), Y(0), "black", 1.5) + Line(X(0), Y(0), X(0), Y(1), "black", 1.5);
    svg_ += Text(kLeft + kSize / 2, Y(0) + 45, x_label, "middle");
    svg_ += "<text x=\"20\" y=\"" + Fixed(kTop + kSize / 2, 1) +
            "\" text-anchor=\"middle\" transform=\"rotate(-90 20 " + Fixed(kTop + kSize / 2, 1) +
            ")\">" + Escape(y_label) + "</text>\n";
  }

  static std::string Line(double x1, double y1, double x2, double y2, std::string_view color,
                          double width, std::string_view extra = "") {
    return "<line x1=\"" + Fixed(x1, 1) + "\" y1=\"" + Fixed(y1, 1) + "\" x2=\"" + Fixed(x2, 1) +
           "\" y2=\"" + Fixed(y2, 1) + "\" stroke=\"" + std::string(color) + "\" stroke-width=\"" +
           Fixed(width, 1) + "\" " + std::string(extra) + "/>\n";
  }

  static std::string Text(double x, double y, std::string_view text, std::string_view anchor,
                          std::string_view extra = "") {
    return "<text x=\"" + Fixed(x, 1) + "\" y=\"" + Fixed(y, 1) + "\" text-anchor=\"" +
           std::string(anchor) + "\" " + std::string(extra) + ">" + Escape(text) + "</text>\n";
  }

  // The y = x line: chance on a ROC plot, perfect calibration on a reliability plot.
  void Diagonal() { Add(Line(X(0), Y(0), X(1), Y(1), "#888888", 1.2, "stroke-dasharray=\"6 4\"")); }

  // One legend row per call, in call order, boxed at the corner given to Finish().
  void LegendEntry(std::string_view swatch_svg_at_origin, std::string_view label) {
    legend_.emplace_back(swatch_svg_at_origin, label);
  }

  void Add(const std::string& svg) { svg_ += svg; }

  enum class Corner { kLowerRight, kUpperLeft };

  // The legend goes where the curve rarely is: lower right for ROC, upper left for calibration.
  std::string Finish(Corner corner) {
    if (!legend_.empty()) {
      const double rows = static_cast<double>(legend_.size());
      const double box_w = kSize * 0.5, box_h = 20 * rows + 8;
      const double box_x = corner == Corner::kLowerRight ? X(1) - box_w - 8 : X(0) + 8;
      const double box_y = corner == Corner::kLowerRight ? Y(0) - box_h - 8 : Y(1) + 8;
      svg_ += "<rect x=\"" + Fixed(box_x, 1) + "\" y=\"" + Fixed(box_y, 1) + "\" width=\"" +
              Fixed(box_w, 1) + "\" height=\"" + Fixed(box_h, 1) +
              "\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n";
      for (std::size_t i = 0; i < legend_.size(); ++i) {
        svg_ += "<g transform=\"translate(" + Fixed(box_x + 8, 1) + " " +
                Fixed(box_y + 14 + 20 * static_cast<double>(i), 1) + ")\">" + legend_[i].first +
                "<text x=\"28\" y=\"4\">" + Escape(legend_[i].second) + "</text></g>\n";
      }
    }
    return svg_ + "</svg>\n";
  }

 private:
  std::string svg_;
  std::vector<std::pair<std::string, std::string>> legend_;  // (swatch SVG, label)
};

std::string Points(const std::vector<std::pair<double, double>>& xy) {
  std::string out;
  for (const auto& [x, y] : xy) {
    if (!out.empty()) out += ' ';
    out += Fixed(UnitPlot::X(x), 1) + "," + Fixed(UnitPlot::Y(y), 1);
  }
  return out;
}

std::string RocSvg(const ReportInput& input) {
  UnitPlot plot("ROC curve", "False positive rate (1 - specificity)",
                "True positive rate (sensitivity)");
  plot.Diagonal();
  std::vector<std::pair<double, double>> xy;
  for (const RocPoint& p : input.roc) {
    if (std::isfinite(p.fpr) && std::isfinite(p.tpr)) xy.emplace_back(p.fpr, p.tpr);
  }
  if (!xy.empty()) {
    plot.Add("<polyline points=\"" + Points(xy) +
             "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n");
  }
  const BinaryMetrics& m = input.metrics;
  const double op_x = UnitPlot::X(1.0 - m.specificity), op_y = UnitPlot::Y(m.sensitivity);
  plot.Add("<circle cx=\"" + Fixed(op_x, 1) + "\" cy=\"" + Fixed(op_y, 1) +
           "\" r=\"5\" fill=\"#d62728\"><title>threshold " + Fixed(m.threshold, 4) +
           ": sensitivity " + Fixed(m.sensitivity, 4) + ", specificity " + Fixed(m.specificity, 4) +
           "</title></circle>\n");

  plot.LegendEntry(
      "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"#1f77b4\" stroke-width=\"2\"/>",
      "model (AUC = " + Fixed(m.auc, 4) + ")");
  plot.LegendEntry(
      "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"#888888\" "
      "stroke-dasharray=\"6 4\"/>",
      "chance (AUC = 0.5)");
  plot.LegendEntry("<circle cx=\"10\" cy=\"0\" r=\"5\" fill=\"#d62728\"/>",
                   "threshold " + Fixed(m.threshold, 4));
  return plot.Finish(UnitPlot::Corner::kLowerRight);
}

std::string CalibrationSvg(const std::vector<ReliabilityBin>& reliability, double ece,
                           std::string_view title) {
  UnitPlot plot(title, "Mean predicted probability", "Observed fraction of positives");
  // Bin counts as faint bars along the bottom (a quarter of the plot for the fullest bin): a
  // point resting on three images deserves less trust than one resting on three hundred.
  std::int64_t max_count = 0;
  for (const ReliabilityBin& bin : reliability) max_count = std::max(max_count, bin.count);
  if (max_count > 0) {
    for (const ReliabilityBin& bin : reliability) {
      if (bin.count == 0) continue;
      const double height = 0.25 * static_cast<double>(bin.count) / static_cast<double>(max_count);
      const double x = UnitPlot::X(bin.lower), w = UnitPlot::X(bin.upper) - x;
      plot.Add("<rect x=\"" + Fixed(x + 1, 1) + "\" y=\"" + Fixed(UnitPlot::Y(height), 1) +
               "\" width=\"" + Fixed(std::max(w - 2, 0.5), 1) + "\" height=\"" +
               Fixed(UnitPlot::Y(0) - UnitPlot::Y(height), 1) +
               "\" fill=\"#9ecae1\" fill-opacity=\"0.6\"><title>" + Fixed(bin.lower, 1) + "-" +
               Fixed(bin.upper, 1) + ": " + std::to_string(bin.count) + " images</title></rect>\n");
    }
  }
  plot.Diagonal();
  std::vector<std::pair<double, double>> xy;
  for (const ReliabilityBin& bin : reliability) {
    if (bin.count > 0) xy.emplace_back(bin.mean_probability, bin.positive_rate);
  }
  if (!xy.empty()) {
    plot.Add("<polyline points=\"" + Points(xy) +
             "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n");
  }
  for (const ReliabilityBin& bin : reliability) {
    if (bin.count == 0) continue;
    plot.Add("<circle cx=\"" + Fixed(UnitPlot::X(bin.mean_probability), 1) + "\" cy=\"" +
             Fixed(UnitPlot::Y(bin.positive_rate), 1) + "\" r=\"4\" fill=\"#1f77b4\"><title>n = " +
             std::to_string(bin.count) + ", mean probability " + Fixed(bin.mean_probability, 3) +
             ", positives " + Fixed(bin.positive_rate, 3) + "</title></circle>\n");
  }
  plot.LegendEntry(
      "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
      "<circle cx=\"10\" cy=\"0\" r=\"4\" fill=\"#1f77b4\"/>",
      "model (ECE = " + Fixed(ece, 4) + ")");
  plot.LegendEntry(
      "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"#888888\" "
      "stroke-dasharray=\"6 4\"/>",
      "perfectly calibrated");
  plot.LegendEntry(
      "<rect x=\"0\" y=\"-6\" width=\"20\" height=\"12\" fill=\"#9ecae1\" "
      "fill-opacity=\"0.6\"/>",
      "images per bin");
  return plot.Finish(UnitPlot::Corner::kUpperLeft);
}

// White blended towards `rgb` by `fraction` (0..1).
std::string Shade(const int rgb[3], double fraction) {
  fraction = std::isfinite(fraction) ? std::clamp(fraction, 0.0, 1.0) : 0.0;
  char buffer[16];
  const auto mix = [&](int c) { return static_cast<int>(std::lround(255 + (c - 255) * fraction)); };
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", mix(rgb[0]), mix(rgb[1]), mix(rgb[2]));
  return buffer;
}

std::string ConfusionSvg(const ReportInput& input) {
  const Confusion& c = input.metrics.confusion;
  constexpr double kLeft = 150, kTop = 90, kCell = 130;
  constexpr double kWidth = kLeft + 2 * kCell + 30, kHeight = kTop + 2 * kCell + 20;
  constexpr int kCorrect[3] = {0x1f, 0x77, 0xb4}, kWrong[3] = {0xd6, 0x27, 0x28};
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Fixed(kWidth, 0) +
                    "\" height=\"" + Fixed(kHeight, 0) + "\" viewBox=\"0 0 " + Fixed(kWidth, 0) +
                    " " + Fixed(kHeight, 0) + "\" font-family=\"sans-serif\" font-size=\"13\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += UnitPlot::Text(kLeft + kCell, 25,
                        "Confusion matrix (threshold " + Fixed(input.metrics.threshold, 4) + ")",
                        "middle", "font-size=\"15\" font-weight=\"bold\"");
  svg += UnitPlot::Text(kLeft + kCell, 55, "Predicted", "middle", "font-weight=\"bold\"");
  svg += UnitPlot::Text(kLeft + kCell / 2, kTop - 10, "PNEUMONIA", "middle");
  svg += UnitPlot::Text(kLeft + 1.5 * kCell, kTop - 10, "NORMAL", "middle");
  svg += UnitPlot::Text(
      20, kTop + kCell, "Actual", "middle",
      "font-weight=\"bold\" transform=\"rotate(-90 20 " + Fixed(kTop + kCell, 1) + ")\"");
  svg += UnitPlot::Text(kLeft - 10, kTop + kCell / 2 + 5, "PNEUMONIA", "end");
  svg += UnitPlot::Text(kLeft - 10, kTop + 1.5 * kCell + 5, "NORMAL", "end");

  struct CellSpec {
    int row, col;
    std::int64_t count, row_total;
    const char* name;
    bool correct;
  };
  const std::int64_t actual_pos = c.tp + c.fn, actual_neg = c.tn + c.fp;
  const CellSpec cells[] = {{0, 0, c.tp, actual_pos, "TP", true},
                            {0, 1, c.fn, actual_pos, "FN", false},
                            {1, 0, c.fp, actual_neg, "FP", false},
                            {1, 1, c.tn, actual_neg, "TN", true}};
  for (const CellSpec& cell : cells) {
    // Shaded by the share of the actual class (row), so the colours read as sensitivity and
    // specificity whatever the class balance.
    const double share = cell.row_total > 0
                             ? static_cast<double>(cell.count) / static_cast<double>(cell.row_total)
                             : 0.0;
    const double x = kLeft + cell.col * kCell, y = kTop + cell.row * kCell;
    const char* ink = share > 0.55 ? "white" : "black";
    svg += "<rect x=\"" + Fixed(x, 1) + "\" y=\"" + Fixed(y, 1) + "\" width=\"" + Fixed(kCell, 1) +
           "\" height=\"" + Fixed(kCell, 1) + "\" fill=\"" +
           Shade(cell.correct ? kCorrect : kWrong, 0.15 + 0.85 * share) +
           "\" stroke=\"white\" stroke-width=\"2\"/>\n";
    svg +=
        UnitPlot::Text(x + kCell / 2, y + kCell / 2 + 4, std::to_string(cell.count), "middle",
                       std::string("font-size=\"26\" font-weight=\"bold\" fill=\"") + ink + "\"");
    svg += UnitPlot::Text(x + kCell / 2, y + kCell / 2 + 28,
                          std::string(cell.name) + " (" + Fixed(100 * share, 1) + "% of row)",
                          "middle", std::string("fill=\"") + ink + "\"");
  }
  return svg + "</svg>\n";
}

std::string IndexHtml(const ReportInput& input) {
  const BinaryMetrics& m = input.metrics;
  struct Row {
    const char* name;
    std::string value;
    const char* meaning;
  };
  const Row rows[] = {
      {"n", std::to_string(m.n), "images evaluated"},
      {"accuracy", Fixed(m.accuracy, 4), "fraction classified correctly"},
      {"sensitivity", Fixed(m.sensitivity, 4), "fraction of PNEUMONIA images flagged (recall)"},
      {"specificity", Fixed(m.specificity, 4), "fraction of NORMAL images cleared"},
      {"precision", Fixed(m.precision, 4), "fraction of flagged images that are PNEUMONIA"},
      {"F1", Fixed(m.f1, 4), "harmonic mean of precision and sensitivity"},
      {"AUC", Fixed(m.auc, 4), "ROC area: chance that a PNEUMONIA image outranks a NORMAL one"},
      {"ECE", Fixed(m.ece, 4), "expected calibration error, 10 equal-width bins"},
      {"Brier", Fixed(m.brier, 4), "mean squared error of the probabilities"},
      {"threshold", Fixed(m.threshold, 4), "probability at or above which PNEUMONIA is predicted"},
      {"TP / FP / TN / FN",
       std::to_string(m.confusion.tp) + " / " + std::to_string(m.confusion.fp) + " / " +
           std::to_string(m.confusion.tn) + " / " + std::to_string(m.confusion.fn),
       "confusion matrix counts"},
  };
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      Escape(input.title) +
      "</title>\n<style>\n"
      "body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }\n"
      "table { border-collapse: collapse; margin: 1em 0; }\n"
      "th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }\n"
      "td.value { text-align: right; font-variant-numeric: tabular-nums; }\n"
      "figure { display: inline-block; margin: 0.5em; }\n"
      "</style>\n</head>\n<body>\n<h1>" +
      Escape(input.title) + "</h1>\n<p><strong>Model:</strong> " + Escape(input.model_description) +
      "</p>\n<p><strong>Data:</strong> " + Escape(input.data_description) +
      "</p>\n<h2>Metrics</h2>\n<table>\n<tr><th>metric</th><th>value</th><th>meaning</th></tr>\n";
  for (const Row& row : rows) {
    html += "<tr><td>" + Escape(row.name) + "</td><td class=\"value\">" + Escape(row.value) +
            "</td><td>" + Escape(row.meaning) + "</td></tr>\n";
  }
  html +=
      "</table>\n<h2>Curves</h2>\n"
      "<figure><img src=\"roc.svg\" alt=\"ROC curve, AUC " +
      Fixed(m.auc, 4) +
      "\"><figcaption>ROC curve; the red dot is the operating threshold.</figcaption></figure>\n"
      "<figure><img src=\"calibration.svg\" alt=\"Calibration curve, ECE " +
      Fixed(m.ece, 4) +
      "\"><figcaption>Reliability: points on the diagonal are perfectly calibrated."
      "</figcaption></figure>\n"
      "<figure><img src=\"confusion.svg\" alt=\"Confusion matrix\"><figcaption>Confusion matrix "
      "at the operating threshold.</figcaption></figure>\n";
  if (input.stress) {
    html +=
        "<h2>Stress validation</h2>\n<p>The same images under acquisition shifts, at the same "
        "threshold.</p>\n"
        "<table>\n<tr><th>condition</th><th>accuracy</th><th>AUC</th><th>sensitivity</"
        "th><th>specificity</th>"
        "<th>ECE</th></tr>\n";
    auto row = [&](const std::string& name, const BinaryMetrics& r) {
      html += "<tr><td>" + Escape(name) + "</td><td class=\"value\">" + Fixed(r.accuracy, 4) +
              "</td><td class=\"value\">" + Fixed(r.auc, 4) + "</td><td class=\"value\">" +
              Fixed(r.sensitivity, 4) + "</td><td class=\"value\">" + Fixed(r.specificity, 4) +
              "</td><td class=\"value\">" + Fixed(r.ece, 4) + "</td></tr>\n";
    };
    for (const auto& c : input.stress->conditions) row(c.name, c.metrics);
    row("mean", input.stress->mean);
    row("worst", input.stress->worst);
    html +=
        "</table>\n<figure><img src=\"calibration_stress.svg\" alt=\"Calibration under stress, "
        "ECE " +
        Fixed(input.stressed_ece, 4) +
        "\"><figcaption>Reliability of every stress condition pooled.</figcaption></figure>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace

Result<void> WriteReport(const std::filesystem::path& dir, const ReportInput& input) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Fail(ErrorCode::kIoError,
                "cannot create report directory " + dir.string() + ": " + ec.message());
  }
  const std::pair<const char*, std::string> files[] = {
      {"roc.svg", RocSvg(input)},
      {"calibration.svg",
       CalibrationSvg(input.reliability, input.metrics.ece, "Calibration (reliability) curve")},
      {"calibration_stress.svg",
       input.stress ? CalibrationSvg(input.stressed_reliability, input.stressed_ece,
                                     "Calibration under stress")
                    : std::string()},
      {"confusion.svg", ConfusionSvg(input)},
      // Last, so that an index.html on disk means its images were written too.
      {"index.html", IndexHtml(input)},
  };
  for (const auto& [name, content] : files) {
    if (content.empty()) continue;
    if (auto written = WriteFile(dir / name, content); !written) return written;
  }
  return {};
}

}  // namespace pneumo::eval
