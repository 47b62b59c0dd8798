// A small Prometheus registry with the text exposition format (version 0.0.4).
//
//   pneumo::metrics::Registry registry;
//   auto& loss = registry.AddGauge("pneumo_train_loss", "Mean training loss of the last step");
//   loss.Set(0.31);
//   auto& steps = registry.AddCounter("pneumo_train_steps_total", "Optimiser steps taken");
//   steps.Increment();
//   auto& lat = registry.AddHistogram("pneumo_inference_seconds", "Forward pass time",
//                                     {0.01, 0.05, 0.1});
//   lat.Observe(0.02);
//   std::string text = registry.Render();   // served on /metrics
//
// Hand-written because no Debian package provides a C++ Prometheus client; kept small and tested.
// Thread-safe: metric updates are atomic or mutex-guarded; Add* may be called at any time; the
// returned references stay valid for the registry's lifetime.
//
// Misuse is a programmer error, not a runtime condition, so it throws std::invalid_argument rather
// than returning an Error: an invalid metric or label name, a reserved label name ("__" prefix, or
// "le" on a histogram), reusing a name with another type or help text, reusing a histogram with
// other bounds, or bounds that are not strictly ascending. Metrics are registered at start-up, so
// such a bug shows on the first run.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pneumo::metrics {

using Labels = std::map<std::string, std::string>;

class Gauge {
 public:
  void Set(double value) { value_.store(value); }
  void Add(double delta);  // lock-free (compare-and-swap loop); delta may be negative
  double Value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Counter {
 public:
  void Increment(double delta = 1.0);  // delta must be >= 0; negative deltas are ignored
  double Value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // Strictly ascending, no NaN; +Inf is implicit (a trailing +Inf is accepted and dropped).
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);  // counted in every bucket whose bound is >= value; NaN only in +Inf

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  std::vector<std::uint64_t> bucket_counts_;  // GUARDED_BY(mu_), non-cumulative, size bounds+1
  double sum_ = 0;                            // GUARDED_BY(mu_)
  std::uint64_t count_ = 0;                   // GUARDED_BY(mu_)
};

class Registry {
 public:
  Registry();
  ~Registry();  // out of line: Family is only complete in registry.cc
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; a name is one family with one type and help. Calling
  // Add* again with the same name and labels returns the same metric.
  Gauge& AddGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Counter& AddCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds, const Labels& labels = {});

  // Families sorted by name, each with # HELP and # TYPE lines; label values escaped; series within
  // a family sorted by labels. Numbers in the shortest form that reads back exactly; +Inf, -Inf
  // and NaN spelled as Prometheus parses them.
  std::string Render() const;

 private:
  struct Family;
  // REQUIRES: mu_ held. Validates the name and creates or checks the family.
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;  // GUARDED_BY(mu_)
};

}  // namespace pneumo::metrics
