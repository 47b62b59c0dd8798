#include "eval/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pneumo::eval {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory per test under GoogleTest's temporary directory.
fs::path FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("pneumo_report_test_" + name);
  fs::remove_all(dir);
  return dir;
}

// The worked example from binary_metrics_test.cc: TP 3, FP 1, TN 3, FN 1, AUC 0.8125, Brier 0.175.
ReportInput WorkedExample() {
  const std::vector<float> p = {0.9f, 0.8f, 0.7f, 0.6f, 0.4f, 0.3f, 0.2f, 0.1f};
  const std::vector<int> y = {1, 1, 0, 1, 0, 1, 0, 0};
  ReportInput input;
  input.title = "Evaluation <test> & \"quotes\"";
  input.model_description = "pneumonet 1.0.0 (models/<default>)";
  input.data_description = "synthetic worked example (8 images)";
  input.metrics = ComputeMetrics(p, y, 0.5);
  input.roc = RocCurve(p, y);
  input.reliability = ReliabilityBins(p, y);
  return input;
}

TEST(WriteReport, WritesTheIndexAndThreeSvgFiles) {
  const fs::path dir = FreshDir("files") / "nested";  // created, parents included
  ASSERT_TRUE(WriteReport(dir, WorkedExample()).has_value());
  for (const char* name : {"index.html", "roc.svg", "calibration.svg", "confusion.svg"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / name)) << name;
    EXPECT_GT(fs::file_size(dir / name), 100u) << name;
  }
}

TEST(WriteReport, IndexHoldsTheMetricsTableAndLinksTheImages) {
  const fs::path dir = FreshDir("index");
  ASSERT_TRUE(WriteReport(dir, WorkedExample()).has_value());
  const std::string html = ReadAll(dir / "index.html");
  EXPECT_NE(html.find("<td class=\"value\">8</td>"), std::string::npos);       // n
  EXPECT_NE(html.find("<td class=\"value\">0.7500</td>"), std::string::npos);  // accuracy etc.
  EXPECT_NE(html.find("<td class=\"value\">0.8125</td>"), std::string::npos);  // AUC
  EXPECT_NE(html.find("<td class=\"value\">0.1750</td>"), std::string::npos);  // Brier
  EXPECT_NE(html.find("<td class=\"value\">0.5000</td>"), std::string::npos);  // threshold
  for (const char* name : {"sensitivity", "specificity", "precision", "F1", "ECE"}) {
    EXPECT_NE(html.find(std::string("<td>") + name + "</td>"), std::string::npos) << name;
  }
  EXPECT_NE(html.find("<img src=\"roc.svg\""), std::string::npos);
  EXPECT_NE(html.find("<img src=\"calibration.svg\""), std::string::npos);
  EXPECT_NE(html.find("<img src=\"confusion.svg\""), std::string::npos);
}

TEST(WriteReport, EscapesEveryCallerString) {
  const fs::path dir = FreshDir("escape");
  ASSERT_TRUE(WriteReport(dir, WorkedExample()).has_value());
  const std::string html = ReadAll(dir / "index.html");
  EXPECT_NE(html.find("<title>Evaluation &lt;test&gt; &amp; &quot;quotes&quot;</title>"),
            std::string::npos);
  EXPECT_NE(html.find("models/&lt;default&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<test>"), std::string::npos);
  EXPECT_EQ(html.find("<default>"), std::string::npos);
}

TEST(WriteReport, RocSvgShowsTheAucTheDiagonalAndTheCurve) {
  const fs::path dir = FreshDir("roc");
  ASSERT_TRUE(WriteReport(dir, WorkedExample()).has_value());
  const std::string svg = ReadAll(dir / "roc.svg");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("AUC = 0.8125"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // the chance diagonal
  EXPECT_NE(svg.find("False positive rate"), std::string::npos);
  EXPECT_NE(svg.find(">0.2</text>"), std::string::npos);  // tick labels
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(WriteReport, CalibrationSvgPlotsEachNonEmptyBin) {
  const fs::path dir = FreshDir("calibration");
  const ReportInput input = WorkedExample();
  ASSERT_TRUE(WriteReport(dir, input).has_value());
  const std::string svg = ReadAll(dir / "calibration.svg");
  std::size_t non_empty = 0;
  for (const ReliabilityBin& bin : input.reliability) non_empty += bin.count > 0 ? 1 : 0;
  std::size_t circles = 0;
  for (std::size_t at = svg.find("<circle cx"); at != std::string::npos;
       at = svg.find("<circle cx", at + 1)) {
    ++circles;
  }
  EXPECT_EQ(circles, non_empty + 1);  // plus the legend's swatch
  EXPECT_NE(svg.find("ECE = "), std::string::npos);
  EXPECT_NE(svg.find("perfectly calibrated"), std::string::npos);
}

TEST(WriteReport, ConfusionSvgShowsTheFourCounts) {
  const fs::path dir = FreshDir("confusion");
  ReportInput input = WorkedExample();
  input.metrics.confusion = {.tp = 11, .fp = 22, .tn = 33, .fn = 44};
  ASSERT_TRUE(WriteReport(dir, input).has_value());
  const std::string svg = ReadAll(dir / "confusion.svg");
  for (const char* count : {">11</text>", ">22</text>", ">33</text>", ">44</text>"}) {
    EXPECT_NE(svg.find(count), std::string::npos) << count;
  }
  EXPECT_NE(svg.find("PNEUMONIA"), std::string::npos);
  EXPECT_NE(svg.find("NORMAL"), std::string::npos);
}

TEST(WriteReport, FailsWithIoErrorNamingThePathWhenTheDirectoryCannotBeMade) {
  const fs::path base = FreshDir("blocked");
  fs::create_directories(base);
  const fs::path blocker = base / "a_file";
  std::ofstream(blocker) << "not a directory";
  const auto written = WriteReport(blocker / "report", WorkedExample());
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kIoError);
  EXPECT_NE(written.error().message.find(blocker.string()), std::string::npos)
      << written.error().message;
}

TEST(WriteReport, FailsWithIoErrorNamingTheFileWhenAFileCannotBeWritten) {
  const fs::path dir = FreshDir("unwritable");
  fs::create_directories(dir / "roc.svg");  // a directory where the file should go
  const auto written = WriteReport(dir, WorkedExample());
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kIoError);
  EXPECT_NE(written.error().message.find((dir / "roc.svg").string()), std::string::npos)
      << written.error().message;
}

}  // namespace
}  // namespace pneumo::eval
