#include "eval/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace pneumo::eval {
namespace {

// Logits spread over [-6, 6] and labels drawn from sigmoid(logit / true_temperature), from a fixed
// seed. Uniforms come straight from mt19937's 32-bit output, which the standard pins down, rather
// than from std::*_distribution, whose algorithms differ between standard libraries.
struct Synthetic {
  std::vector<float> logits;
  std::vector<int> labels;
};

Synthetic MakeSynthetic(double true_temperature, int n, unsigned seed) {
  std::mt19937 rng(seed);
  const auto uniform = [&] { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; };
  Synthetic s;
  for (int i = 0; i < n; ++i) {
    const double logit = -6.0 + 12.0 * uniform();
    const double p = 1.0 / (1.0 + std::exp(-logit / true_temperature));
    s.logits.push_back(static_cast<float>(logit));
    s.labels.push_back(uniform() < p ? 1 : 0);
  }
  return s;
}

TEST(FitTemperature, RecoversAnOverconfidentModelsTemperature) {
  // Labels follow sigmoid(z / 2): the logits are twice as confident as the truth.
  const Synthetic s = MakeSynthetic(/*true_temperature=*/2.0, /*n=*/20000, /*seed=*/42);
  EXPECT_NEAR(FitTemperature(s.logits, s.labels), 2.0, 0.1);
}

TEST(FitTemperature, RecoversAnUnderconfidentModelsTemperature) {
  const Synthetic s = MakeSynthetic(/*true_temperature=*/0.5, /*n=*/20000, /*seed=*/43);
  EXPECT_NEAR(FitTemperature(s.logits, s.labels), 0.5, 0.03);
}

TEST(FitTemperature, IsOneWhenLabelsHoldOneClass) {
  const std::vector<float> logits = {-1.0f, 0.5f, 2.0f};
  EXPECT_EQ(FitTemperature(logits, std::vector<int>{1, 1, 1}), 1.0);
  EXPECT_EQ(FitTemperature(logits, std::vector<int>{0, 0, 0}), 1.0);
  EXPECT_EQ(FitTemperature({}, {}), 1.0);
}

TEST(FitTemperature, StopsAtTheLowerBoundOnSeparableData) {
  // Every logit on the right side: sharper is always better, down to the 0.05 floor.
  const std::vector<float> logits = {-3.0f, -1.0f, 1.0f, 3.0f};
  const std::vector<int> labels = {0, 0, 1, 1};
  EXPECT_NEAR(FitTemperature(logits, labels), 0.05, 1e-6);
}

TEST(FitTemperature, SurvivesHugeLogitsWithoutNan) {
  // A confidently wrong logit of 1e4 would give log(0) in a naive implementation.
  const std::vector<float> logits = {1e4f, -1e4f, 2.0f, -2.0f};
  const std::vector<int> labels = {0, 1, 1, 0};
  const double t = FitTemperature(logits, labels);
  EXPECT_FALSE(std::isnan(t));
  EXPECT_GE(t, 0.05);
  EXPECT_LE(t, 20.0);
}

TEST(ApplyTemperature, DividesTheLogitBeforeTheSigmoid) {
  const std::vector<float> logits = {0.0f, 2.0f, -2.0f, 1000.0f, -1000.0f};
  const std::vector<float> p = ApplyTemperature(logits, 2.0);
  ASSERT_EQ(p.size(), logits.size());
  EXPECT_FLOAT_EQ(p[0], 0.5f);
  EXPECT_NEAR(p[1], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);  // 0.7310586
  EXPECT_NEAR(p[2], 1.0 / (1.0 + std::exp(1.0)), 1e-6);
  EXPECT_EQ(p[3], 1.0f);
  EXPECT_EQ(p[4], 0.0f);
}

TEST(ApplyTemperature, RejectsANonPositiveTemperature) {
  const std::vector<float> logits = {1.0f};
  EXPECT_THROW(ApplyTemperature(logits, 0.0), std::invalid_argument);
  EXPECT_THROW(ApplyTemperature(logits, -1.0), std::invalid_argument);
}

TEST(ChooseThreshold, SplitsSeparableDataHalfwayBetweenTheClasses) {
  // Any threshold in (0.3, 0.7] is perfect (J = 1); the midpoint has the most margin.
  const std::vector<float> p = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
  const std::vector<int> y = {0, 0, 0, 1, 1, 1};
  const ThresholdChoice c = ChooseThreshold(p, y);
  EXPECT_NEAR(c.threshold, 0.5, 1e-6);
  EXPECT_EQ(c.sensitivity, 1.0);
  EXPECT_EQ(c.specificity, 1.0);
}

// Overlapping classes, ten of each:
//
//   negatives 0.05 0.10 0.15 0.20 0.25 0.30 0.35 0.40             0.60 0.65
//   positives                                          0.50 0.55            0.70 ... 0.99 (8)
//
//   cut in (0.40, 0.50]: sensitivity 10/10, specificity 8/10 -> J = 0.8, interval width 0.10
//   cut in (0.65, 0.70]: sensitivity  8/10, specificity 10/10 -> J = 0.8, interval width 0.05
//   every other cut has J <= 0.7.
const std::vector<float> kOverlapP = {0.05f, 0.10f, 0.15f, 0.20f, 0.25f, 0.30f, 0.35f,
                                      0.40f, 0.60f, 0.65f, 0.50f, 0.55f, 0.70f, 0.75f,
                                      0.80f, 0.85f, 0.90f, 0.95f, 0.97f, 0.99f};
const std::vector<int> kOverlapY = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

TEST(ChooseThreshold, TakesTheWidestOfTiedIntervalsWithoutASpecificityFloor) {
  const ThresholdChoice c = ChooseThreshold(kOverlapP, kOverlapY, /*min_specificity=*/0.0);
  EXPECT_NEAR(c.threshold, 0.45, 1e-6);
  EXPECT_DOUBLE_EQ(c.sensitivity, 1.0);
  EXPECT_DOUBLE_EQ(c.specificity, 0.8);
}

TEST(ChooseThreshold, NeverDropsSpecificityBelowTheFloorWhenAnotherCutKeepsIt) {
  const ThresholdChoice c = ChooseThreshold(kOverlapP, kOverlapY, /*min_specificity=*/0.9);
  EXPECT_NEAR(c.threshold, 0.675, 1e-6);
  EXPECT_DOUBLE_EQ(c.sensitivity, 0.8);
  EXPECT_DOUBLE_EQ(c.specificity, 1.0);
  EXPECT_NE(c.rule.find("Youden"), std::string::npos) << c.rule;
  EXPECT_NE(c.rule.find("0.90"), std::string::npos) << c.rule;
}

TEST(ChooseThreshold, MergesAdjacentTiedCutsIntoOneInterval) {
  // negatives 0.1 0.2 0.5, positives 0.5 0.8 0.9. Crossing 0.5 (one of each class, equal class
  // sizes) leaves J at 2/3: (0.2, 0.5] and (0.5, 0.8] tie and join into (0.2, 0.8], midpoint 0.5.
  const std::vector<float> p = {0.1f, 0.2f, 0.5f, 0.5f, 0.8f, 0.9f};
  const std::vector<int> y = {0, 0, 0, 1, 1, 1};
  const ThresholdChoice c = ChooseThreshold(p, y, /*min_specificity=*/0.0);
  EXPECT_NEAR(c.threshold, 0.5, 1e-6);
  EXPECT_NEAR(c.sensitivity + c.specificity - 1, 2.0 / 3.0, 1e-12);
}

TEST(ChooseThreshold, PutsTheNothingPositiveCutAboveAProbabilityOfOne) {
  // An inverted model: the negative scores 1.0. Only "nothing positive" keeps specificity >= 0.9,
  // and its threshold must exceed 1.0 for that to hold.
  const std::vector<float> p = {1.0f, 0.2f};
  const std::vector<int> y = {0, 1};
  const ThresholdChoice c = ChooseThreshold(p, y, /*min_specificity=*/0.9);
  EXPECT_GT(c.threshold, 1.0);
  EXPECT_EQ(c.specificity, 1.0);
  EXPECT_EQ(c.sensitivity, 0.0);
}

TEST(ChooseThreshold, FallsBackToOneHalfAndSaysWhyWithOneClass) {
  const std::vector<float> p = {0.2f, 0.7f};
  const std::vector<int> y = {1, 1};
  const ThresholdChoice c = ChooseThreshold(p, y);
  EXPECT_EQ(c.threshold, 0.5);
  EXPECT_NE(c.rule.find("one class"), std::string::npos) << c.rule;
}

TEST(ChooseThreshold, RejectsSpansOfDifferentSizes) {
  const std::vector<float> p = {0.2f, 0.7f};
  const std::vector<int> y = {1};
  EXPECT_THROW(ChooseThreshold(p, y), std::invalid_argument);
}

}  // namespace
}  // namespace pneumo::eval

namespace pneumo::eval {
namespace {

TEST(FitCalibration, RecoversTemperatureAndBiasOfAClassWeightedModel) {
  // Labels follow sigmoid(z / 1.5 + 1.1): the logits are overconfident and shifted towards the
  // negative class, as class weighting leaves them.
  std::mt19937 rng(7);
  std::normal_distribution<double> logit(0.0, 4.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> logits;
  std::vector<int> labels;
  for (int i = 0; i < 20000; ++i) {
    const double z = logit(rng);
    logits.push_back(static_cast<float>(z));
    labels.push_back(u(rng) < 1.0 / (1.0 + std::exp(-(z / 1.5 + 1.1))) ? 1 : 0);
  }
  const LogitCalibration fit = FitCalibration(logits, labels);
  EXPECT_NEAR(fit.temperature, 1.5, 0.08);
  EXPECT_NEAR(fit.bias, 1.1, 0.08);
  // Calibrated probabilities then match observed frequencies far better than raw sigmoid(z).
  EXPECT_LT(ExpectedCalibrationError(ApplyCalibration(logits, fit), labels),
            0.5 * ExpectedCalibrationError(ApplyTemperature(logits, 1.0), labels));
}

TEST(FitCalibration, IsTheIdentityForOneClass) {
  const std::vector<float> logits{1.0f, 2.0f};
  const std::vector<int> labels{1, 1};
  const LogitCalibration fit = FitCalibration(logits, labels);
  EXPECT_EQ(fit.temperature, 1.0);
  EXPECT_EQ(fit.bias, 0.0);
}

TEST(CalibrateOnValidation, MeasuresAtTheChosenThresholdOnCalibratedProbabilities) {
  const std::vector<float> logits{-4, -3, -2, -1, 1, 2, 3, 4};
  const std::vector<int> labels{0, 0, 0, 1, 0, 1, 1, 1};
  const ValidationCalibration v = CalibrateOnValidation(logits, labels);
  EXPECT_EQ(v.metrics.n, 8);
  EXPECT_DOUBLE_EQ(v.metrics.threshold, v.threshold.threshold);
  EXPECT_GT(v.metrics.auc, 0.8);
  EXPECT_FALSE(v.threshold.rule.empty());
}

}  // namespace
}  // namespace pneumo::eval
