#include "metrics/process_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace pneumo::metrics {
namespace {

double Value(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

TEST(ProcessMetrics, DescribesThisProcessWithTheStandardNames) {
  const std::string text = "\n" + RenderProcessMetrics();
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge"), std::string::npos);
  EXPECT_GT(Value(text, "process_resident_memory_bytes"), 1e6)
      << "a test binary holds more than 1 MB";
  EXPECT_GE(Value(text, "process_virtual_memory_bytes"),
            Value(text, "process_resident_memory_bytes"));
  EXPECT_GE(Value(text, "process_cpu_seconds_total"), 0.0);
  EXPECT_GE(Value(text, "process_open_fds"), 3.0) << "stdin, stdout and stderr at least";
  EXPECT_GE(Value(text, "process_threads"), 1.0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double started = Value(text, "process_start_time_seconds");
  EXPECT_LE(started, now + 2);
  EXPECT_GT(started, now - 3600) << "this test process started within the hour";
}

TEST(ProcessMetrics, CpuTimeGrowsWithWork) {
  const double before = Value("\n" + RenderProcessMetrics(), "process_cpu_seconds_total");
  volatile double sink = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  EXPECT_GT(Value("\n" + RenderProcessMetrics(), "process_cpu_seconds_total"), before);
}

}  // namespace
}  // namespace pneumo::metrics
