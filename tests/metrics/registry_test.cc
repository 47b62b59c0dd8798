#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pneumo::metrics {
namespace {

TEST(Registry, RendersASmallRegistryExactly) {
  Registry registry;
  registry.AddGauge("pneumo_train_loss", "Mean training loss of the last step").Set(0.25);
  registry.AddCounter("pneumo_train_steps_total", "Optimiser steps taken").Increment(3);
  // Observations chosen to be exact in binary so the sum prints exactly: 0.125 + 0.25 + 0.5 + 4.
  Histogram& latency =
      registry.AddHistogram("pneumo_inference_seconds", "Forward pass time", {0.25, 1});
  for (double v : {0.125, 0.25, 0.5, 4.0}) latency.Observe(v);

  EXPECT_EQ(registry.Render(),
            "# HELP pneumo_inference_seconds Forward pass time\n"
            "# TYPE pneumo_inference_seconds histogram\n"
            "pneumo_inference_seconds_bucket{le=\"0.25\"} 2\n"
            "pneumo_inference_seconds_bucket{le=\"1\"} 3\n"
            "pneumo_inference_seconds_bucket{le=\"+Inf\"} 4\n"
            "pneumo_inference_seconds_sum 4.875\n"
            "pneumo_inference_seconds_count 4\n"
            "# HELP pneumo_train_loss Mean training loss of the last step\n"
            "# TYPE pneumo_train_loss gauge\n"
            "pneumo_train_loss 0.25\n"
            "# HELP pneumo_train_steps_total Optimiser steps taken\n"
            "# TYPE pneumo_train_steps_total counter\n"
            "pneumo_train_steps_total 3\n");
}

TEST(Registry, RendersLabelledSeriesOfOneFamilyUnderOneHeader) {
  Registry registry;
  registry.AddGauge("pneumo_auc", "Validation AUC", {{"split", "val"}, {"model", "a"}}).Set(0.9);
  registry.AddGauge("pneumo_auc", "Validation AUC", {{"split", "test"}, {"model", "a"}}).Set(0.8);
  EXPECT_EQ(registry.Render(),
            "# HELP pneumo_auc Validation AUC\n"
            "# TYPE pneumo_auc gauge\n"
            "pneumo_auc{model=\"a\",split=\"test\"} 0.8\n"
            "pneumo_auc{model=\"a\",split=\"val\"} 0.9\n");
}

TEST(Registry, EscapesLabelValuesAndHelpText) {
  Registry registry;
  registry
      .AddGauge("pneumo_info", "Line one\nback\\slash \"quoted\"", {{"path", "C:\\data\n\"x\""}})
      .Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP pneumo_info Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE pneumo_info gauge\n"
            "pneumo_info{path=\"C:\\\\data\\n\\\"x\\\"\"} 1\n");
}

TEST(Registry, SpellsSpecialValuesAsPrometheusParsesThem) {
  Registry registry;
  registry.AddGauge("g", "h", {{"v", "pinf"}}).Set(std::numeric_limits<double>::infinity());
  registry.AddGauge("g", "h", {{"v", "ninf"}}).Set(-std::numeric_limits<double>::infinity());
  registry.AddGauge("g", "h", {{"v", "nan"}}).Set(std::nan(""));
  registry.AddGauge("g", "h", {{"v", "big"}}).Set(1e21);
  registry.AddGauge("g", "h", {{"v", "tiny"}}).Set(-2.5e-7);
  EXPECT_EQ(registry.Render(),
            "# HELP g h\n"
            "# TYPE g gauge\n"
            "g{v=\"big\"} 1e+21\n"
            "g{v=\"nan\"} NaN\n"
            "g{v=\"ninf\"} -Inf\n"
            "g{v=\"pinf\"} +Inf\n"
            "g{v=\"tiny\"} -2.5e-07\n");
}

TEST(Registry, ReturnsTheSameMetricForTheSameNameAndLabels) {
  Registry registry;
  Counter& a = registry.AddCounter("c_total", "help", {{"k", "v"}});
  Counter& b = registry.AddCounter("c_total", "help", {{"k", "v"}});
  Counter& other = registry.AddCounter("c_total", "help", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
}

TEST(Registry, RejectsInvalidMetricAndLabelNames) {
  Registry registry;
  EXPECT_THROW(registry.AddGauge("", "h"), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("9lives", "h"), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("has-dash", "h"), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("has space", "h"), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("ok", "h", {{"bad-label", "v"}}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("ok", "h", {{"__reserved", "v"}}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("hist", "h", {1.0}, {{"le", "1"}}), std::invalid_argument);
  EXPECT_NO_THROW(registry.AddGauge("ns:sub_name_2", "h", {{"_ok9", "v"}}));
}

TEST(Registry, RejectsOneNameWithTwoTypesOrTwoHelps) {
  Registry registry;
  registry.AddGauge("pneumo_x", "help");
  EXPECT_THROW(registry.AddCounter("pneumo_x", "help"), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("pneumo_x", "help", {1.0}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("pneumo_x", "other help"), std::invalid_argument);
}

TEST(Registry, RejectsAHistogramReregisteredWithOtherBounds) {
  Registry registry;
  Histogram& h = registry.AddHistogram("h", "help", {1.0, 2.0});
  EXPECT_EQ(&registry.AddHistogram("h", "help", {1.0, 2.0}), &h);
  EXPECT_THROW(registry.AddHistogram("h", "help", {1.0, 3.0}), std::invalid_argument);
}

TEST(Histogram, KeepsBucketsCumulativeWithBoundsInclusive) {
  Histogram h({0.1, 0.5, 1.0});
  for (double v : {0.05, 0.1, 0.2, 0.5, 0.7, 3.0, 7.0}) h.Observe(v);
  const Histogram::Snapshot s = h.Take();
  ASSERT_EQ(s.cumulative_counts.size(), 4u);
  EXPECT_EQ(s.cumulative_counts[0], 2u);  // 0.05, 0.1
  EXPECT_EQ(s.cumulative_counts[1], 4u);  // + 0.2, 0.5
  EXPECT_EQ(s.cumulative_counts[2], 5u);  // + 0.7
  EXPECT_EQ(s.cumulative_counts[3], 7u);  // + 3, 7 (+Inf)
  EXPECT_EQ(s.count, 7u);
  EXPECT_NEAR(s.sum, 11.55, 1e-12);
}

TEST(Histogram, CountsNanOnlyInTheInfBucket) {
  Histogram h({1.0});
  h.Observe(std::nan(""));
  const Histogram::Snapshot s = h.Take();
  EXPECT_EQ(s.cumulative_counts[0], 0u);
  EXPECT_EQ(s.cumulative_counts[1], 1u);
}

TEST(Histogram, RejectsUnsortedBoundsAndDropsATrailingInf) {
  EXPECT_THROW(Histogram({1.0, 0.5}), std::invalid_argument);
  EXPECT_THROW(Histogram({1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(Histogram({std::nan("")}), std::invalid_argument);
  Histogram h({1.0, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.Take().upper_bounds, std::vector<double>{1.0});
}

TEST(Counter, IgnoresNegativeAndNanIncrements) {
  Counter c;
  c.Increment(2);
  c.Increment(-5);
  c.Increment(std::nan(""));
  c.Increment();
  EXPECT_EQ(c.Value(), 3.0);
}

TEST(Gauge, AddsFromManyThreadsWithoutLosingUpdates) {
  Gauge g;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&g] {
      for (int i = 0; i < 20000; ++i) g.Add(1.0);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(g.Value(), 80000.0);
  g.Add(-0.5);
  EXPECT_EQ(g.Value(), 79999.5);
}

}  // namespace
}  // namespace pneumo::metrics
