// The standard process_* metrics every Prometheus client library exports, read from /proc/self:
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds, process_threads.
//
//   std::string text = registry.Render() + RenderProcessMetrics();   // served on /metrics
//
// Read at scrape time rather than stored in the Registry: they are counters and gauges the kernel
// keeps, and the Registry's Counter only counts what this process adds to it.
// Thread-safe. On a system without /proc, returns an empty string.
#pragma once

#include <string>

namespace pneumo::metrics {

std::string RenderProcessMetrics();

}  // namespace pneumo::metrics
