#include "eval/binary_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

namespace pneumo::eval {
namespace {

// The worked example used throughout, sorted by probability:
//
//   p      0.9  0.8  0.7  0.6 | 0.4  0.3  0.2  0.1      (threshold 0.5 at the bar)
//   label   1    1    0    1  |  0    1    0    0
//           TP   TP   FP   TP |  TN   FN   TN   TN
//
//   TP 3, FP 1, TN 3, FN 1  ->  accuracy 6/8, sensitivity 3/4, specificity 3/4, precision 3/4,
//   F1 3/4.
//   AUC: positives 0.9 and 0.8 outrank all 4 negatives, 0.6 outranks 3 (0.4 0.2 0.1), 0.3 outranks
//   2 (0.2 0.1): 13 of 16 pairs = 0.8125.
//   Brier: (0.01 + 0.04 + 0.49 + 0.16 + 0.16 + 0.49 + 0.04 + 0.01) / 8 = 1.4 / 8 = 0.175.
const std::vector<float> kProbabilities = {0.9f, 0.8f, 0.7f, 0.6f, 0.4f, 0.3f, 0.2f, 0.1f};
const std::vector<int> kLabels = {1, 1, 0, 1, 0, 1, 0, 0};

TEST(BinaryMetrics, MatchTheHandComputedWorkedExample) {
  const BinaryMetrics m = ComputeMetrics(kProbabilities, kLabels, 0.5);
  EXPECT_EQ(m.n, 8);
  EXPECT_EQ(m.threshold, 0.5);
  EXPECT_EQ(m.confusion.tp, 3);
  EXPECT_EQ(m.confusion.fp, 1);
  EXPECT_EQ(m.confusion.tn, 3);
  EXPECT_EQ(m.confusion.fn, 1);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.sensitivity, 0.75);
  EXPECT_DOUBLE_EQ(m.specificity, 0.75);
  EXPECT_DOUBLE_EQ(m.precision, 0.75);
  EXPECT_DOUBLE_EQ(m.f1, 0.75);
  EXPECT_DOUBLE_EQ(m.auc, 0.8125);
  EXPECT_NEAR(m.brier, 0.175, 1e-6);  // probabilities are floats
}

TEST(BinaryMetrics, CountAProbabilityEqualToTheThresholdAsPositive) {
  const std::vector<float> p = {0.5f, 0.5f};
  const std::vector<int> y = {1, 0};
  const Confusion c = ComputeConfusion(p, y, 0.5);
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.fp, 1);
  EXPECT_EQ(c.tn + c.fn, 0);
}

TEST(BinaryMetrics, DefineUndefinedRatesAsZero) {
  // Every prediction negative and no positives at all: sensitivity, precision and F1 have zero
  // denominators.
  const std::vector<float> p = {0.1f, 0.2f};
  const std::vector<int> y = {0, 0};
  const BinaryMetrics m = ComputeMetrics(p, y, 0.5);
  EXPECT_EQ(m.sensitivity, 0.0);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_EQ(m.specificity, 1.0);
  EXPECT_EQ(m.auc, 0.5);
  EXPECT_FALSE(std::isnan(m.ece));
}

TEST(BinaryMetrics, AreAllZeroOnAnEmptySetButAucIsHalf) {
  const BinaryMetrics m = ComputeMetrics({}, {}, 0.5);
  EXPECT_EQ(m.n, 0);
  EXPECT_EQ(m.accuracy, 0.0);
  EXPECT_EQ(m.brier, 0.0);
  EXPECT_EQ(m.ece, 0.0);
  EXPECT_EQ(m.auc, 0.5);
}

TEST(BinaryMetrics, RejectSpansOfDifferentSizes) {
  const std::vector<float> p = {0.1f, 0.2f};
  const std::vector<int> y = {0};
  EXPECT_THROW(ComputeMetrics(p, y, 0.5), std::invalid_argument);
  EXPECT_THROW(RocAuc(p, y), std::invalid_argument);
}

TEST(RocAuc, CountsTiedPairsAsHalf) {
  // positives {0.8, 0.5}, negatives {0.5, 0.5, 0.2}:
  //   0.8 beats all 3 negatives -> 3; 0.5 ties two 0.5s (1/2 each) and beats 0.2 -> 2.
  //   AUC = 5 / (2 * 3) = 0.8333...
  const std::vector<float> p = {0.8f, 0.5f, 0.5f, 0.5f, 0.2f};
  const std::vector<int> y = {1, 1, 0, 0, 0};
  EXPECT_DOUBLE_EQ(RocAuc(p, y), 5.0 / 6.0);
}

TEST(RocAuc, IsHalfWhenEveryScoreIsTied) {
  const std::vector<float> p = {0.3f, 0.3f, 0.3f, 0.3f};
  const std::vector<int> y = {1, 0, 1, 0};
  EXPECT_DOUBLE_EQ(RocAuc(p, y), 0.5);
}

TEST(RocAuc, IsHalfWhenAClassIsAbsent) {
  const std::vector<float> p = {0.1f, 0.9f};
  EXPECT_EQ(RocAuc(p, std::vector<int>{1, 1}), 0.5);
  EXPECT_EQ(RocAuc(p, std::vector<int>{0, 0}), 0.5);
}

TEST(RocAuc, IsOneForPerfectAndZeroForInvertedRanking) {
  const std::vector<float> p = {0.1f, 0.2f, 0.8f, 0.9f};
  EXPECT_EQ(RocAuc(p, std::vector<int>{0, 0, 1, 1}), 1.0);
  EXPECT_EQ(RocAuc(p, std::vector<int>{1, 1, 0, 0}), 0.0);
}

TEST(RocAuc, AgreesWithTheQuadraticPairCountOnRandomTiedScores) {
  std::mt19937 rng(7);
  std::vector<float> p(2000);
  std::vector<int> y(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    y[i] = static_cast<int>(rng() % 2);
    // 21 distinct levels so that ties are everywhere; positives score a little higher.
    p[i] = static_cast<float>(std::min<unsigned>(20, rng() % 17 + (y[i] ? 4 : 0))) / 20.0f;
  }
  double favourable = 0, pairs = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    for (std::size_t j = 0; j < p.size(); ++j) {
      if (y[i] != 1 || y[j] != 0) continue;
      pairs += 1;
      favourable += p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0;
    }
  }
  EXPECT_NEAR(RocAuc(p, y), favourable / pairs, 1e-12);
}

TEST(RocCurve, HasOnePointPerDistinctProbabilityFromOriginToOneOne) {
  // Same data as CountsTiedPairsAsHalf. Distinct probabilities 0.8, 0.5, 0.2 from the top:
  //   >= 0.8: tp 1 of 2, fp 0 of 3;  >= 0.5: tp 2, fp 2;  >= 0.2: tp 2, fp 3.
  const std::vector<float> p = {0.8f, 0.5f, 0.5f, 0.5f, 0.2f};
  const std::vector<int> y = {1, 1, 0, 0, 0};
  const std::vector<RocPoint> roc = RocCurve(p, y);
  ASSERT_EQ(roc.size(), 4u);
  EXPECT_TRUE(std::isinf(roc[0].threshold));
  EXPECT_EQ(roc[0].fpr, 0.0);
  EXPECT_EQ(roc[0].tpr, 0.0);
  EXPECT_FLOAT_EQ(roc[1].threshold, 0.8f);
  EXPECT_DOUBLE_EQ(roc[1].fpr, 0.0);
  EXPECT_DOUBLE_EQ(roc[1].tpr, 0.5);
  EXPECT_FLOAT_EQ(roc[2].threshold, 0.5f);
  EXPECT_DOUBLE_EQ(roc[2].fpr, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(roc[2].tpr, 1.0);
  EXPECT_DOUBLE_EQ(roc[3].fpr, 1.0);
  EXPECT_DOUBLE_EQ(roc[3].tpr, 1.0);
}

TEST(RocCurve, TrapezoidAreaEqualsRocAuc) {
  const std::vector<RocPoint> roc = RocCurve(kProbabilities, kLabels);
  double area = 0;
  for (std::size_t i = 1; i < roc.size(); ++i) {
    area += (roc[i].fpr - roc[i - 1].fpr) * (roc[i].tpr + roc[i - 1].tpr) / 2;
  }
  EXPECT_NEAR(area, RocAuc(kProbabilities, kLabels), 1e-12);
}

// ECE example, 10 bins of width 0.1:
//
//   p      0.05 | 0.15 0.15 | 0.95 1.0
//   label   0   |  0    1   |  1    1
//   bin     0   |     1     |     9        (1.0 belongs to the last bin)
//
//   bin 0: count 1, mean p 0.05,  positives 0   -> gap 0.05
//   bin 1: count 2, mean p 0.15,  positives 0.5 -> gap 0.35
//   bin 9: count 2, mean p 0.975, positives 1   -> gap 0.025
//   ECE = 1/5 * 0.05 + 2/5 * 0.35 + 2/5 * 0.025 = 0.01 + 0.14 + 0.01 = 0.16
const std::vector<float> kEceProbabilities = {0.05f, 0.15f, 0.15f, 0.95f, 1.0f};
const std::vector<int> kEceLabels = {0, 0, 1, 1, 1};

TEST(ReliabilityBins, PutOneInTheLastBinAndAverageEachBin) {
  const std::vector<ReliabilityBin> bins = ReliabilityBins(kEceProbabilities, kEceLabels);
  ASSERT_EQ(bins.size(), 10u);
  EXPECT_DOUBLE_EQ(bins[0].lower, 0.0);
  EXPECT_DOUBLE_EQ(bins[9].upper, 1.0);
  EXPECT_EQ(bins[0].count, 1);
  EXPECT_EQ(bins[1].count, 2);
  EXPECT_EQ(bins[9].count, 2);
  std::int64_t total = 0;
  for (const ReliabilityBin& b : bins) total += b.count;
  EXPECT_EQ(total, 5);
  EXPECT_NEAR(bins[1].mean_probability, 0.15, 1e-6);
  EXPECT_DOUBLE_EQ(bins[1].positive_rate, 0.5);
  EXPECT_NEAR(bins[9].mean_probability, 0.975, 1e-6);
  EXPECT_DOUBLE_EQ(bins[9].positive_rate, 1.0);
  EXPECT_EQ(bins[5].count, 0);
  EXPECT_EQ(bins[5].mean_probability, 0.0);
}

TEST(ExpectedCalibrationError, MatchesTheHandComputedExample) {
  EXPECT_NEAR(ExpectedCalibrationError(kEceProbabilities, kEceLabels), 0.16, 1e-6);
  EXPECT_NEAR(ComputeMetrics(kEceProbabilities, kEceLabels, 0.5).ece, 0.16, 1e-6);
}

TEST(ExpectedCalibrationError, IsZeroForPerfectlyCalibratedBins) {
  // Bin 2 holds four predictions of 0.25 of which one is positive.
  const std::vector<float> p = {0.25f, 0.25f, 0.25f, 0.25f};
  const std::vector<int> y = {1, 0, 0, 0};
  EXPECT_NEAR(ExpectedCalibrationError(p, y), 0.0, 1e-12);
}

TEST(ReliabilityBins, RejectANonPositiveBinCount) {
  EXPECT_THROW(ReliabilityBins(kEceProbabilities, kEceLabels, 0), std::invalid_argument);
}

}  // namespace
}  // namespace pneumo::eval
