#include "eval/stress_summary.h"

#include <gtest/gtest.h>

namespace pneumo::eval {
namespace {

BinaryMetrics Metrics(double accuracy, double auc, double ece, std::int64_t n) {
  BinaryMetrics m;
  m.accuracy = accuracy;
  m.auc = auc;
  m.ece = ece;
  m.n = n;
  m.threshold = 0.6;
  m.confusion.tp = n;
  return m;
}

TEST(StressSummary, AveragesRatesAndFindsTheWorstConditionOfEach) {
  const auto s = SummarizeStress({{"clean", Metrics(0.9, 0.99, 0.02, 10)},
                                  {"blur", Metrics(0.8, 0.97, 0.10, 10)},
                                  {"noise", Metrics(0.7, 0.98, 0.05, 10)}});
  EXPECT_NEAR(s.mean.accuracy, 0.8, 1e-12);
  EXPECT_NEAR(s.mean.auc, (0.99 + 0.97 + 0.98) / 3, 1e-12);
  EXPECT_EQ(s.mean.n, 30);
  EXPECT_EQ(s.mean.confusion.tp, 30);
  EXPECT_DOUBLE_EQ(s.worst.accuracy, 0.7);
  EXPECT_EQ(s.worst_condition.at("accuracy"), "noise");
  EXPECT_DOUBLE_EQ(s.worst.auc, 0.97);
  EXPECT_EQ(s.worst_condition.at("auc"), "blur");
  EXPECT_DOUBLE_EQ(s.worst.ece, 0.10) << "the worst ECE is the highest";
  EXPECT_EQ(s.worst_condition.at("ece"), "blur");
  const auto json = ToJson(s);
  EXPECT_EQ(json["conditions"].size(), 3u);
  EXPECT_EQ(json["conditions"][1]["name"], "blur");
  EXPECT_EQ(json["worst"]["conditions"]["accuracy"], "noise");
  EXPECT_DOUBLE_EQ(json["mean"]["threshold"].get<double>(), 0.6);
}

TEST(StressSummary, OfNothingIsEmpty) {
  const auto s = SummarizeStress({});
  EXPECT_TRUE(s.conditions.empty());
  EXPECT_EQ(s.mean.n, 0);
}

}  // namespace
}  // namespace pneumo::eval
