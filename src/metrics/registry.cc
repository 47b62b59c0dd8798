#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace pneumo::metrics {
namespace {

// std::atomic<double>::fetch_add exists in C++20, but a CAS loop states the memory order we rely
// on and behaves the same on every standard library.
void AtomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
    // `current` now holds the value another thread stored; retry with it.
  }
}

bool IsMetricName(const std::string& name) {
  if (name.empty()) return false;
  const auto head = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  if (!head(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}

bool IsLabelName(const std::string& name) {
  if (name.empty()) return false;
  const auto head = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!head(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}

void CheckLabels(const std::string& metric, const Labels& labels, bool histogram) {
  for (const auto& [name, value] : labels) {
    if (!IsLabelName(name) || name.starts_with("__")) {
      throw std::invalid_argument("metric " + metric + ": invalid label name \"" + name +
                                  "\" (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
    }
    if (histogram && name == "le") {
      throw std::invalid_argument("metric " + metric +
                                  ": label \"le\" is reserved for histogram buckets");
    }
  }
}

// Shortest text that reads back to the same double (Go's strconv.ParseFloat, which Prometheus
// uses, accepts it, exponents included); the special values as the exposition format spells them.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";  // cannot happen: 32 bytes hold any shortest double
  return std::string(buffer, end);
}

// Label values escape backslash, double quote and line feed; HELP text escapes only backslash
// and line feed (exposition format 0.0.4).
std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// `{a="1",b="2"}`, with `extra` (already formatted, e.g. le="0.5") last; empty when no labels.
std::string FormatLabels(const Labels& labels, const std::string& extra = "") {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += name + "=\"" + EscapeLabelValue(value) + "\"";
  }
  if (!extra.empty()) {
    if (out.size() > 1) out += ',';
    out += extra;
  }
  return out + "}";
}

std::vector<double> CheckedBounds(std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (std::isnan(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("histogram bounds must be strictly ascending and not NaN");
    }
  }
  return bounds;
}

}  // namespace

void Gauge::Add(double delta) { AtomicAdd(value_, delta); }

void Counter::Increment(double delta) {
  if (!(delta >= 0)) return;  // also drops NaN: a counter that goes NaN never recovers
  AtomicAdd(value_, delta);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(CheckedBounds(std::move(upper_bounds))),
      bucket_counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // The first bound >= value owns the observation (Prometheus buckets are "less or equal"). NaN
  // compares false with everything, so it would land in the first bucket; it belongs in +Inf.
  const std::size_t bucket =
      std::isnan(value) ? upper_bounds_.size()
                        : static_cast<std::size_t>(
                              std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
                              upper_bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++bucket_counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  std::lock_guard<std::mutex> lock(mu_);
  snapshot.cumulative_counts.reserve(bucket_counts_.size());
  std::uint64_t running = 0;
  for (std::uint64_t c : bucket_counts_) {
    running += c;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

struct Registry::Family {
  std::string help;
  std::string type;  // "gauge", "counter" or "histogram"; only the matching map is used
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help,
                                      const char* type) {
  if (!IsMetricName(name)) {
    throw std::invalid_argument("invalid metric name \"" + name +
                                "\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->help = help;
    family->type = type;
    it = families_.emplace(name, std::move(family)).first;
    return *it->second;
  }
  Family& family = *it->second;
  if (family.type != type) {
    throw std::invalid_argument("metric " + name + " is already registered as a " + family.type +
                                ", not a " + type);
  }
  if (family.help != help) {
    throw std::invalid_argument("metric " + name + " is already registered with help \"" +
                                family.help + "\"");
  }
  return family;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckLabels(name, labels, /*histogram=*/false);
  auto& slot = FamilyFor(name, help, "gauge").gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckLabels(name, labels, /*histogram=*/false);
  auto& slot = FamilyFor(name, help, "counter").counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> upper_bounds, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckLabels(name, labels, /*histogram=*/true);
  Family& family = FamilyFor(name, help, "histogram");
  auto fresh = std::make_unique<Histogram>(std::move(upper_bounds));  // validates the bounds
  auto& slot = family.histograms[labels];
  if (!slot) {
    slot = std::move(fresh);
  } else if (slot->Take().upper_bounds != fresh->Take().upper_bounds) {
    throw std::invalid_argument("histogram " + name + " is already registered with other bounds");
  }
  return *slot;
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(family->help) + "\n";
    out += "# TYPE " + name + " " + family->type + "\n";
    for (const auto& [labels, gauge] : family->gauges) {
      out += name + FormatLabels(labels) + " " + FormatValue(gauge->Value()) + "\n";
    }
    for (const auto& [labels, counter] : family->counters) {
      out += name + FormatLabels(labels) + " " + FormatValue(counter->Value()) + "\n";
    }
    for (const auto& [labels, histogram] : family->histograms) {
      const Histogram::Snapshot s = histogram->Take();
      for (std::size_t i = 0; i <= s.upper_bounds.size(); ++i) {
        const double bound =
            i < s.upper_bounds.size() ? s.upper_bounds[i] : std::numeric_limits<double>::infinity();
        out += name + "_bucket" + FormatLabels(labels, "le=\"" + FormatValue(bound) + "\"") + " " +
               std::to_string(s.cumulative_counts[i]) + "\n";
      }
      out += name + "_sum" + FormatLabels(labels) + " " + FormatValue(s.sum) + "\n";
      out += name + "_count" + FormatLabels(labels) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace pneumo::metrics
