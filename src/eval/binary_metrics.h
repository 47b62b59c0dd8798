// Metrics for a binary classifier (positive = PNEUMONIA), computed from probabilities and labels.
//
//   auto m = pneumo::eval::ComputeMetrics(probabilities, labels, /*threshold=*/0.5);
//   std::cout << m.accuracy << " " << m.auc << " " << m.confusion.tp;
//
// Pure functions; thread-safe. Labels are 0 (NORMAL) or 1 (PNEUMONIA); any non-zero label counts
// as positive. A prediction is positive when probability >= threshold. A rate whose denominator is
// zero (no positives, no positive predictions...) is defined as 0 so that degenerate splits still
// serialise and plot. Passing spans of different sizes is a programmer error: every function throws
// std::invalid_argument.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace pneumo::eval {

struct Confusion {
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0;
};

struct RocPoint {
  double threshold;  // predictions with probability >= threshold are positive
  double fpr;
  double tpr;
};

struct ReliabilityBin {
  double lower, upper;  // probability range [lower, upper)
  std::int64_t count = 0;
  double mean_probability = 0;  // mean predicted probability in the bin
  double positive_rate = 0;     // observed fraction of positives in the bin
};

struct BinaryMetrics {
  std::int64_t n = 0;
  double threshold = 0.5;
  Confusion confusion;
  double accuracy = 0, sensitivity = 0, specificity = 0, precision = 0, f1 = 0;
  double auc = 0;  // ROC AUC with ties counted as half (Mann-Whitney)
  double ece = 0;  // expected calibration error, 10 equal-width bins
  double brier = 0;
};

Confusion ComputeConfusion(std::span<const float> probabilities, std::span<const int> labels,
                           double threshold);

// 0.5 when either class is absent (AUC undefined).
double RocAuc(std::span<const float> probabilities, std::span<const int> labels);

// Points from (0,0) to (1,1), one per distinct probability, in increasing fpr. The first point,
// (0,0), has threshold +infinity (nothing is positive); the others have the probability itself.
// With one class absent its rate stays 0, so the curve then ends at (0,1) or (1,0).
std::vector<RocPoint> RocCurve(std::span<const float> probabilities, std::span<const int> labels);

// `bins` equal-width bins over [0, 1]; the last one also holds 1.0. Empty bins have count 0 and
// both means 0. NaN probabilities fall in no bin. bins <= 0 throws std::invalid_argument.
std::vector<ReliabilityBin> ReliabilityBins(std::span<const float> probabilities,
                                            std::span<const int> labels, int bins = 10);

// Sum over bins of (count / n) * |positive_rate - mean_probability|.
double ExpectedCalibrationError(std::span<const float> probabilities, std::span<const int> labels,
                                int bins = 10);

BinaryMetrics ComputeMetrics(std::span<const float> probabilities, std::span<const int> labels,
                             double threshold);

// {"n", "threshold", "accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "ece",
//  "brier", "confusion": {"tp", "fp", "tn", "fn"}}: the shape of evaluate --json and model cards.
nlohmann::json ToJson(const BinaryMetrics& metrics);

}  // namespace pneumo::eval
