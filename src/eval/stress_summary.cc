#include "eval/stress_summary.h"

#include <algorithm>
#include <functional>

namespace pneumo::eval {
namespace {

struct Field {
  const char* name;
  double BinaryMetrics::*member;
  bool lower_is_better;
};

constexpr Field kFields[] = {
    {"accuracy", &BinaryMetrics::accuracy, false},
    {"sensitivity", &BinaryMetrics::sensitivity, false},
    {"specificity", &BinaryMetrics::specificity, false},
    {"precision", &BinaryMetrics::precision, false},
    {"f1", &BinaryMetrics::f1, false},
    {"auc", &BinaryMetrics::auc, false},
    {"ece", &BinaryMetrics::ece, true},
    {"brier", &BinaryMetrics::brier, true},
};

}  // namespace

StressSummary SummarizeStress(std::vector<ConditionMetrics> conditions) {
  StressSummary s;
  s.conditions = std::move(conditions);
  if (s.conditions.empty()) return s;
  s.mean.threshold = s.worst.threshold = s.conditions.front().metrics.threshold;
  for (const auto& c : s.conditions) {
    s.mean.n += c.metrics.n;
    s.mean.confusion.tp += c.metrics.confusion.tp;
    s.mean.confusion.fp += c.metrics.confusion.fp;
    s.mean.confusion.tn += c.metrics.confusion.tn;
    s.mean.confusion.fn += c.metrics.confusion.fn;
  }
  s.worst.n = s.mean.n;
  s.worst.confusion = s.mean.confusion;
  const double count = static_cast<double>(s.conditions.size());
  for (const Field& f : kFields) {
    double sum = 0;
    const ConditionMetrics* worst = &s.conditions.front();
    for (const auto& c : s.conditions) {
      const double v = c.metrics.*f.member;
      sum += v;
      const double w = worst->metrics.*f.member;
      if (f.lower_is_better ? v > w : v < w) worst = &c;
    }
    s.mean.*f.member = sum / count;
    s.worst.*f.member = worst->metrics.*f.member;
    s.worst_condition[f.name] = worst->name;
  }
  return s;
}

nlohmann::json ToJson(const StressSummary& summary) {
  nlohmann::json conditions = nlohmann::json::array();
  for (const auto& c : summary.conditions) {
    nlohmann::json row = ToJson(c.metrics);
    row["name"] = c.name;
    conditions.push_back(row);
  }
  nlohmann::json worst = ToJson(summary.worst);
  worst.erase("confusion");
  worst["conditions"] = summary.worst_condition;
  nlohmann::json mean = ToJson(summary.mean);
  mean.erase("confusion");
  return {{"conditions", conditions}, {"mean", mean}, {"worst", worst}};
}

}  // namespace pneumo::eval
