// Writes a self-contained HTML evaluation report with the ROC curve, the calibration
// (reliability) curve and the confusion matrix as images (SVG files next to index.html).
//
//   pneumo::eval::WriteReport(dir, {.title = "pneumo evaluate", .metrics = m, ...});
//
// Thread-safe as long as two calls do not write the same directory.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/binary_metrics.h"
#include "eval/stress_summary.h"

namespace pneumo::eval {

struct ReportInput {
  std::string title;
  std::string model_description;  // e.g. "pneumonet 1.0.0 (models/default)"
  std::string data_description;   // e.g. "../shared/data/chest_xray/train (5216 images)"
  BinaryMetrics metrics;
  std::vector<RocPoint> roc;
  std::vector<ReliabilityBin> reliability;
  // Optional (evaluate --stress): a table per condition and the reliability of all conditions
  // pooled, drawn as calibration_stress.svg.
  std::optional<StressSummary> stress;
  std::vector<ReliabilityBin> stressed_reliability;
  double stressed_ece = 0;
};

// Creates `dir` if needed and writes index.html, roc.svg, calibration.svg, confusion.svg (and
// calibration_stress.svg with a stress summary).
Result<void> WriteReport(const std::filesystem::path& dir, const ReportInput& input);

}  // namespace pneumo::eval
