// Metrics per stress condition, and their mean and worst case: how a model holds up when the
// images shift (data/stress.h makes the shifted copies).
//
//   std::vector<ConditionMetrics> rows;
//   for (each condition) rows.push_back({name, ComputeMetrics(probs, labels, threshold)});
//   StressSummary s = SummarizeStress(std::move(rows));   // s.mean.auc, s.worst.specificity
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/binary_metrics.h"

namespace pneumo::eval {

struct ConditionMetrics {
  std::string name;
  BinaryMetrics metrics;
};

struct StressSummary {
  std::vector<ConditionMetrics> conditions;
  BinaryMetrics mean;   // each rate averaged over conditions (n and confusion summed)
  BinaryMetrics worst;  // each rate at its worst over conditions (highest ECE and Brier)
  std::map<std::string, std::string> worst_condition;  // metric name -> condition that gave it
};

StressSummary SummarizeStress(std::vector<ConditionMetrics> conditions);

// {"conditions": [{"name", metrics...}], "mean": {...}, "worst": {..., "conditions": {...}}}
nlohmann::json ToJson(const StressSummary& summary);

}  // namespace pneumo::eval
