// Post-training calibration: temperature scaling and the decision threshold, both fitted on the
// validation split only.
//
//   auto c = pneumo::eval::FitCalibration(val_logits, val_labels);  // p = sigmoid(logit / T + b)
//   auto probs = pneumo::eval::ApplyCalibration(val_logits, c);
//   auto choice = pneumo::eval::ChooseThreshold(probs, val_labels);
//
// Pure functions; thread-safe.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "eval/binary_metrics.h"

namespace pneumo::eval {

// Temperature T > 0 minimising the binary negative log-likelihood of sigmoid(logit / T), searched
// over [0.05, 20] in log space. 1.0 when the labels hold one class only (or every logit is 0).
// On separable data the NLL keeps falling as T shrinks, so the result is then the lower bound.
// Spans of different sizes throw std::invalid_argument (programmer error).
double FitTemperature(std::span<const float> logits, std::span<const int> labels);

// sigmoid(logit / temperature), computed without overflow. temperature <= 0 (or NaN) throws
// std::invalid_argument (programmer error).
std::vector<float> ApplyTemperature(std::span<const float> logits, double temperature);

// Temperature scaling with an intercept: p = sigmoid(logit / temperature + bias). The bias undoes
// the prior shift that class weighting puts into the logits (about log(N_pos / N_neg)), which a
// temperature alone cannot, so the probabilities match observed frequencies again.
struct LogitCalibration {
  double temperature = 1.0;
  double bias = 0.0;
};

// Minimises the binary NLL over (1 / temperature, bias) by damped Newton steps from the
// FitTemperature solution; temperature kept in [0.05, 20]. Identity when one class only.
LogitCalibration FitCalibration(std::span<const float> logits, std::span<const int> labels);

std::vector<float> ApplyCalibration(std::span<const float> logits,
                                    const LogitCalibration& calibration);

struct ThresholdChoice {
  double threshold = 0.5;
  std::string rule;  // human-readable statement of the rule, stored in the model card
  double sensitivity = 0, specificity = 0;
};

// Youden's J (sensitivity + specificity - 1) maximised over all cut points; when several cut
// points tie (common on an easy validation split), the midpoint of the widest tied interval is
// taken so that the threshold has the most margin on both sides. Sensitivity is preferred to
// specificity only through ties: the rule never trades away specificity below min_specificity
// when another cut point keeps it above.
//
// Precisely: the candidate cut points are the midpoints between consecutive distinct sorted
// probabilities plus the two extremes (everything positive, nothing positive). Each cut stands for
// the interval of thresholds giving the same confusion matrix; only cuts with specificity >=
// min_specificity compete (the "nothing positive" cut always qualifies); adjacent cuts tied at
// the best J merge into one interval; on equal widths the lower interval (more sensitive) wins.
// With one class only, J is undefined: threshold 0.5, and `rule` says so. NaN probabilities are
// ignored. Spans of different sizes throw std::invalid_argument (programmer error).
ThresholdChoice ChooseThreshold(std::span<const float> probabilities, std::span<const int> labels,
                                double min_specificity = 0.90);

// What training (and `pneumo calibrate`) does after the weights are fixed: fit the calibration,
// choose the threshold on the calibrated probabilities, and measure there. Validation data only.
struct ValidationCalibration {
  LogitCalibration calibration;
  ThresholdChoice threshold;
  BinaryMetrics metrics;
};
ValidationCalibration CalibrateOnValidation(std::span<const float> logits,
                                            std::span<const int> labels);

}  // namespace pneumo::eval
