// Writes a self-contained HTML evaluation report with the ROC curve, the calibration
// (reliability) curve and the confusion matrix as images (SVG files next to index.html).
//
//   pneumo::eval::WriteReport(dir, {.title = "pneumo evaluate", .metrics = m, ...});
//
// Thread-safe as long as two calls do not write the same directory.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/binary_metrics.h"

namespace pneumo::eval {

struct ReportInput {
  std::string title;
  std::string model_description;  // e.g. "pneumonet 1.0.0 (models/default)"
  std::string data_description;   // e.g. "../shared/data/chest_xray/train (5216 images)"
  BinaryMetrics metrics;
  std::vector<RocPoint> roc;
  std::vector<ReliabilityBin> reliability;
};

// Creates `dir` if needed and writes index.html, roc.svg, calibration.svg, confusion.svg.
Result<void> WriteReport(const std::filesystem::path& dir, const ReportInput& input);

}  // namespace pneumo::eval
