#include "eval/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "eval/binary_metrics.h"

namespace pneumo::eval {
namespace {

constexpr double kMinTemperature = 0.05;
constexpr double kMaxTemperature = 20.0;

// log(1 + exp(x)) without overflow for large x or loss of precision for very negative x.
double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// Binary NLL of sigmoid(logit / T): -log sigmoid(s * logit / T) = softplus(-s * logit / T), with
// s = +1 for positives and -1 for negatives. Never evaluates log(0), however confident the logit.
double NegativeLogLikelihood(std::span<const float> logits, std::span<const int> labels,
                             double temperature) {
  double nll = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double sign = labels[i] != 0 ? 1.0 : -1.0;
    nll += Softplus(-sign * logits[i] / temperature);
  }
  return nll;
}

double Sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);  // no overflow on this side
  return e / (1.0 + e);
}

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

}  // namespace

double FitTemperature(std::span<const float> logits, std::span<const int> labels) {
  if (logits.size() != labels.size()) {
    throw std::invalid_argument("FitTemperature: logits and labels differ in size");
  }
  bool any_positive = false, any_negative = false, any_signal = false;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    (labels[i] != 0 ? any_positive : any_negative) = true;
    if (logits[i] != 0) any_signal = true;
  }
  // With one class, or all logits zero, the NLL is monotone or flat in T: no temperature is
  // better supported than leaving the model as it is.
  if (!any_positive || !any_negative || !any_signal) return 1.0;

  // The NLL is convex in 1/T (a one-parameter logistic regression without intercept), hence
  // unimodal in log T, so golden-section search finds the global minimum on the interval; when
  // the data are separable the minimum sits at the lower end and the search converges there.
  // Searching log T spends as many steps on [0.05, 1] as on [1, 20].
  const double inv_phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double lo = std::log(kMinTemperature), hi = std::log(kMaxTemperature);
  const auto nll = [&](double log_t) {
    return NegativeLogLikelihood(logits, labels, std::exp(log_t));
  };
  double x1 = hi - inv_phi * (hi - lo), x2 = lo + inv_phi * (hi - lo);
  double f1 = nll(x1), f2 = nll(x2);
  // 1e-9 in log T is a relative precision of 1e-9 in T; ~45 iterations from width log(400).
  while (hi - lo > 1e-9) {
    if (f1 <= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - inv_phi * (hi - lo);
      f1 = nll(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + inv_phi * (hi - lo);
      f2 = nll(x2);
    }
  }
  return std::clamp(std::exp((lo + hi) / 2), kMinTemperature, kMaxTemperature);
}

std::vector<float> ApplyTemperature(std::span<const float> logits, double temperature) {
  if (!(temperature > 0)) {
    throw std::invalid_argument("ApplyTemperature: temperature must be positive, got " +
                                Format("%g", temperature));
  }
  std::vector<float> probabilities;
  probabilities.reserve(logits.size());
  for (float logit : logits) {
    probabilities.push_back(static_cast<float>(Sigmoid(logit / temperature)));
  }
  return probabilities;
}

LogitCalibration FitCalibration(std::span<const float> logits, std::span<const int> labels) {
  LogitCalibration fit{FitTemperature(logits, labels), 0.0};
  bool any_positive = false, any_negative = false;
  for (int y : labels) (y != 0 ? any_positive : any_negative) = true;
  if (!any_positive || !any_negative) return fit;

  // One-feature logistic regression in (a, b) = (1 / T, bias): convex, so Newton converges; a
  // step is halved until the NLL does not rise (the Hessian can be near singular on separable
  // data).
  auto nll = [&](double a, double b) {
    double total = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const double sign = labels[i] != 0 ? 1.0 : -1.0;
      total += Softplus(-sign * (a * logits[i] + b));
    }
    return total;
  };
  double a = 1.0 / fit.temperature, b = 0.0, current = nll(a, b);
  for (int iteration = 0; iteration < 100; ++iteration) {
    double ga = 0, gb = 0, haa = 1e-9, hab = 0, hbb = 1e-9;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const double z = logits[i], p = Sigmoid(a * z + b), y = labels[i] != 0 ? 1.0 : 0.0;
      const double w = p * (1 - p);
      ga += (p - y) * z;
      gb += p - y;
      haa += w * z * z;
      hab += w * z;
      hbb += w;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    double step = 1.0, next = current;
    for (; step > 1e-6; step /= 2) {
      const double na = std::clamp(a - step * da, 1.0 / kMaxTemperature, 1.0 / kMinTemperature);
      next = nll(na, b - step * db);
      if (next <= current) break;
    }
    if (step <= 1e-6) break;
    a = std::clamp(a - step * da, 1.0 / kMaxTemperature, 1.0 / kMinTemperature);
    b -= step * db;
    const bool converged = current - next < 1e-10 * (1 + current);
    current = next;
    if (converged) break;
  }
  return {1.0 / a, b};
}

std::vector<float> ApplyCalibration(std::span<const float> logits,
                                    const LogitCalibration& calibration) {
  if (!(calibration.temperature > 0)) {
    throw std::invalid_argument("ApplyCalibration: temperature must be positive");
  }
  std::vector<float> probabilities;
  probabilities.reserve(logits.size());
  for (float logit : logits) {
    probabilities.push_back(
        static_cast<float>(Sigmoid(logit / calibration.temperature + calibration.bias)));
  }
  return probabilities;
}

ThresholdChoice ChooseThreshold(std::span<const float> probabilities, std::span<const int> labels,
                                double min_specificity) {
  if (probabilities.size() != labels.size()) {
    throw std::invalid_argument("ChooseThreshold: probabilities and labels differ in size");
  }
  const std::string floor_text = Format("%.2f", min_specificity);

  // Distinct finite probabilities ascending, with the class counts at each value.
  struct Value {
    double p;
    std::int64_t pos = 0, neg = 0;
  };
  std::vector<std::pair<double, bool>> sorted;
  sorted.reserve(probabilities.size());
  std::int64_t positives = 0, negatives = 0;
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    if (std::isnan(probabilities[i])) continue;
    sorted.emplace_back(probabilities[i], labels[i] != 0);
    ++(labels[i] != 0 ? positives : negatives);
  }
  if (positives == 0 || negatives == 0) {
    ThresholdChoice choice;
    choice.threshold = 0.5;
    choice.rule =
        "default threshold 0.5: the validation labels hold one class only, so Youden's J "
        "(and the specificity floor of " +
        floor_text + ") cannot be evaluated";
    const Confusion c = ComputeConfusion(probabilities, labels, choice.threshold);
    choice.sensitivity = c.tp + c.fn > 0 ? static_cast<double>(c.tp) / (c.tp + c.fn) : 0.0;
    choice.specificity = c.tn + c.fp > 0 ? static_cast<double>(c.tn) / (c.tn + c.fp) : 0.0;
    return choice;
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<Value> values;
  for (const auto& [p, positive] : sorted) {
    if (values.empty() || values.back().p != p) values.push_back({p});
    ++(positive ? values.back().pos : values.back().neg);
  }

  // Cut point j (0..k) makes values[j..k-1] positive: j = 0 is "everything positive", j = k is
  // "nothing positive", and in between every threshold in (values[j-1].p, values[j].p] gives the
  // same confusion matrix. That half-open range is the cut's interval; the ends are closed off at
  // 0 and 1, the range probabilities live in.
  const std::size_t k = values.size();
  struct Cut {
    double lower, upper;
    std::int64_t tp, tn;
  };
  std::vector<Cut> cuts(k + 1);
  std::int64_t tp = positives, tn = 0;
  for (std::size_t j = 0; j <= k; ++j) {
    cuts[j].lower = j == 0 ? std::min(0.0, values[0].p) : values[j - 1].p;
    cuts[j].upper = j == k ? std::max(1.0, values[k - 1].p) : values[j].p;
    cuts[j].tp = tp;
    cuts[j].tn = tn;
    if (j < k) {
      tp -= values[j].pos;
      tn += values[j].neg;
    }
  }

  // The floor on specificity: cut k always meets it (specificity 1; a floor above 1 is read as 1),
  // so the constraint can always hold and only cuts that honour it compete.
  const double floor = std::min(min_specificity, 1.0) - 1e-12;
  const auto specificity = [&](const Cut& c) { return static_cast<double>(c.tn) / negatives; };
  const auto eligible = [&](const Cut& c) { return specificity(c) >= floor; };
  // J * positives * negatives, an exact integer, so ties are ties and not rounding accidents.
  const auto scaled_j = [&](const Cut& c) { return c.tp * negatives + c.tn * positives; };
  std::int64_t best = std::numeric_limits<std::int64_t>::min();
  for (const Cut& c : cuts) {
    if (eligible(c)) best = std::max(best, scaled_j(c));
  }

  // Runs of adjacent tied cuts form one interval of equally good thresholds; take the widest
  // (the lowest on equal width, which is the one with more sensitivity) and its midpoint.
  double run_lower = 0, run_upper = 0, best_lower = 0, best_upper = -1;
  bool in_run = false, best_run_ends_at_top = false;
  for (std::size_t j = 0; j <= k; ++j) {
    const bool tied = eligible(cuts[j]) && scaled_j(cuts[j]) == best;
    if (tied) {
      if (!in_run) run_lower = cuts[j].lower;
      run_upper = cuts[j].upper;
      in_run = true;
    }
    if (in_run && (!tied || j == k)) {
      if (run_upper - run_lower > best_upper - best_lower) {
        best_lower = run_lower;
        best_upper = run_upper;
        best_run_ends_at_top = tied && j == k;
      }
      in_run = false;
    }
  }
  double threshold = (best_lower + best_upper) / 2;
  // The "nothing positive" cut means a threshold strictly above every probability; when the top
  // probability is already 1.0 its interval is empty and the midpoint would still catch it.
  if (best_run_ends_at_top && threshold <= values[k - 1].p) {
    threshold = std::nextafter(values[k - 1].p, std::numeric_limits<double>::infinity());
  }

  ThresholdChoice choice;
  choice.threshold = threshold;
  const Confusion c = ComputeConfusion(probabilities, labels, threshold);
  choice.sensitivity = static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fn);
  choice.specificity = static_cast<double>(c.tn) / static_cast<double>(c.tn + c.fp);
  choice.rule =
      "maximise Youden's J (sensitivity + specificity - 1) over the cut points between "
      "consecutive distinct validation probabilities and both extremes, among those "
      "with specificity >= " +
      floor_text + "; ties go to the midpoint of the widest interval of tied thresholds (J = " +
      Format("%.4f", choice.sensitivity + choice.specificity - 1) + ", interval [" +
      Format("%.4f", best_lower) + ", " + Format("%.4f", best_upper) + "])";
  return choice;
}

}  // namespace pneumo::eval

namespace pneumo::eval {

ValidationCalibration CalibrateOnValidation(std::span<const float> logits,
                                            std::span<const int> labels) {
  ValidationCalibration out;
  out.calibration = FitCalibration(logits, labels);
  const std::vector<float> probabilities = ApplyCalibration(logits, out.calibration);
  out.threshold = ChooseThreshold(probabilities, labels);
  out.metrics = ComputeMetrics(probabilities, labels, out.threshold.threshold);
  return out;
}

}  // namespace pneumo::eval
