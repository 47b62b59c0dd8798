#include "eval/binary_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace pneumo::eval {
namespace {

void RequireSameSize(std::span<const float> probabilities, std::span<const int> labels) {
  if (probabilities.size() != labels.size()) {
    throw std::invalid_argument("binary metrics: " + std::to_string(probabilities.size()) +
                                " probabilities but " + std::to_string(labels.size()) + " labels");
  }
}

bool IsPositive(int label) { return label != 0; }

// 0 rather than NaN when a rate is undefined (no positives, no predictions...), so that a metric
// computed on a degenerate split still serialises and plots.
double SafeRatio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0.0;
}

// Indices ordered by decreasing probability. NaN sorts last: a plain `>` is not a strict weak
// order once NaN appears, and std::sort with such a comparator is undefined behaviour.
std::vector<std::size_t> OrderByDecreasingProbability(std::span<const float> probabilities) {
  std::vector<std::size_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const float pa = probabilities[a], pb = probabilities[b];
    if (std::isnan(pa) || std::isnan(pb)) return !std::isnan(pa) && std::isnan(pb);
    return pa > pb;
  });
  return order;
}

bool SameValue(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

Confusion ComputeConfusion(std::span<const float> probabilities, std::span<const int> labels,
                           double threshold) {
  RequireSameSize(probabilities, labels);
  Confusion c;
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const bool predicted = static_cast<double>(probabilities[i]) >= threshold;
    if (IsPositive(labels[i])) {
      ++(predicted ? c.tp : c.fn);
    } else {
      ++(predicted ? c.fp : c.tn);
    }
  }
  return c;
}

double RocAuc(std::span<const float> probabilities, std::span<const int> labels) {
  RequireSameSize(probabilities, labels);
  const std::vector<std::size_t> order = OrderByDecreasingProbability(probabilities);
  // Mann-Whitney by one sort and one sweep over groups of equal probability, from the top: each
  // positive in a group beats every negative below the group and ties (scores 1/2) with each
  // negative inside it. O(n log n), and exact for any number of ties.
  double positives = 0, negatives = 0;
  for (int label : labels) (IsPositive(label) ? positives : negatives) += 1;
  if (positives == 0 || negatives == 0) return 0.5;

  double favourable = 0;      // positive ranked above negative, plus half of the ties
  double negatives_seen = 0;  // negatives with a strictly higher probability than this group
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    double group_pos = 0, group_neg = 0;
    while (end < order.size() &&
           SameValue(probabilities[order[end]], probabilities[order[start]])) {
      (IsPositive(labels[order[end]]) ? group_pos : group_neg) += 1;
      ++end;
    }
    const double negatives_below = negatives - negatives_seen - group_neg;
    favourable += group_pos * negatives_below + 0.5 * group_pos * group_neg;
    negatives_seen += group_neg;
    start = end;
  }
  return favourable / (positives * negatives);
}

std::vector<RocPoint> RocCurve(std::span<const float> probabilities, std::span<const int> labels) {
  RequireSameSize(probabilities, labels);
  double positives = 0, negatives = 0;
  for (int label : labels) (IsPositive(label) ? positives : negatives) += 1;

  std::vector<RocPoint> curve;
  curve.push_back({std::numeric_limits<double>::infinity(), 0.0, 0.0});
  const std::vector<std::size_t> order = OrderByDecreasingProbability(probabilities);
  double tp = 0, fp = 0;
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end < order.size() &&
           SameValue(probabilities[order[end]], probabilities[order[start]])) {
      (IsPositive(labels[order[end]]) ? tp : fp) += 1;
      ++end;
    }
    curve.push_back({static_cast<double>(probabilities[order[start]]), SafeRatio(fp, negatives),
                     SafeRatio(tp, positives)});
    start = end;
  }
  return curve;
}

std::vector<ReliabilityBin> ReliabilityBins(std::span<const float> probabilities,
                                            std::span<const int> labels, int bins) {
  RequireSameSize(probabilities, labels);
  if (bins <= 0) throw std::invalid_argument("reliability bins: bins must be positive");

  std::vector<ReliabilityBin> out(static_cast<std::size_t>(bins));
  std::vector<double> probability_sum(out.size(), 0.0), positive_sum(out.size(), 0.0);
  for (int b = 0; b < bins; ++b) {
    out[b].lower = static_cast<double>(b) / bins;
    out[b].upper = static_cast<double>(b + 1) / bins;
  }
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double p = probabilities[i];
    if (std::isnan(p)) continue;  // belongs to no bin; ECE then covers the finite ones only
    // Clamped so that p == 1.0 lands in the last bin (whose range is closed) and stray values
    // outside [0, 1] land in the nearest end bin instead of out of range.
    const int b = std::clamp(static_cast<int>(std::floor(p * bins)), 0, bins - 1);
    ++out[b].count;
    probability_sum[b] += p;
    positive_sum[b] += IsPositive(labels[i]) ? 1.0 : 0.0;
  }
  for (std::size_t b = 0; b < out.size(); ++b) {
    out[b].mean_probability = SafeRatio(probability_sum[b], static_cast<double>(out[b].count));
    out[b].positive_rate = SafeRatio(positive_sum[b], static_cast<double>(out[b].count));
  }
  return out;
}

double ExpectedCalibrationError(std::span<const float> probabilities, std::span<const int> labels,
                                int bins) {
  const std::vector<ReliabilityBin> reliability = ReliabilityBins(probabilities, labels, bins);
  double n = 0;
  for (const ReliabilityBin& bin : reliability) n += static_cast<double>(bin.count);
  if (n == 0) return 0.0;
  double ece = 0;
  for (const ReliabilityBin& bin : reliability) {
    ece += static_cast<double>(bin.count) / n * std::abs(bin.positive_rate - bin.mean_probability);
  }
  return ece;
}

BinaryMetrics ComputeMetrics(std::span<const float> probabilities, std::span<const int> labels,
                             double threshold) {
  BinaryMetrics m;
  m.n = static_cast<std::int64_t>(probabilities.size());
  m.threshold = threshold;
  m.confusion = ComputeConfusion(probabilities, labels, threshold);
  const Confusion& c = m.confusion;
  const auto d = [](std::int64_t v) { return static_cast<double>(v); };
  m.accuracy = SafeRatio(d(c.tp + c.tn), d(m.n));
  m.sensitivity = SafeRatio(d(c.tp), d(c.tp + c.fn));
  m.specificity = SafeRatio(d(c.tn), d(c.tn + c.fp));
  m.precision = SafeRatio(d(c.tp), d(c.tp + c.fp));
  m.f1 = SafeRatio(2 * m.precision * m.sensitivity, m.precision + m.sensitivity);
  m.auc = RocAuc(probabilities, labels);
  m.ece = ExpectedCalibrationError(probabilities, labels);
  double squared_error = 0;
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double target = IsPositive(labels[i]) ? 1.0 : 0.0;
    squared_error += (probabilities[i] - target) * (probabilities[i] - target);
  }
  m.brier = SafeRatio(squared_error, d(m.n));
  return m;
}

}  // namespace pneumo::eval

namespace pneumo::eval {

nlohmann::json ToJson(const BinaryMetrics& m) {
  return {{"n", m.n},
          {"threshold", m.threshold},
          {"accuracy", m.accuracy},
          {"sensitivity", m.sensitivity},
          {"specificity", m.specificity},
          {"precision", m.precision},
          {"f1", m.f1},
          {"auc", m.auc},
          {"ece", m.ece},
          {"brier", m.brier},
          {"confusion",
           {{"tp", m.confusion.tp},
            {"fp", m.confusion.fp},
            {"tn", m.confusion.tn},
            {"fn", m.confusion.fn}}}};
}

}  // namespace pneumo::eval
