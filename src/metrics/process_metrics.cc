#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pneumo::metrics {
namespace {

void Family(std::ostringstream& out, const char* name, const char* type, const char* help,
            double value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << std::fixed << value << '\n';
  out.unsetf(std::ios::floatfield);
}

// Fields of /proc/self/stat after the parenthesised command name (which may hold spaces).
std::vector<std::string> StatFields() {
  std::ifstream file("/proc/self/stat");
  std::string line;
  std::getline(file, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;  // fields[0] is field 3 of proc(5) ("state")
}

double BootTimeSeconds() {
  std::ifstream file("/proc/stat");
  for (std::string key; file >> key;) {
    if (key == "btime") {
      double value = 0;
      file >> value;
      return value;
    }
    file.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

std::string RenderProcessMetrics() {
  const auto fields = StatFields();
  if (fields.size() < 22) return {};
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // proc(5) numbering: utime 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24.
  auto field = [&](int number) { return std::stod(fields[number - 3]); };
  std::size_t open_fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++open_fds;
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);

  std::ostringstream out;
  Family(out, "process_cpu_seconds_total", "counter",
         "Total user and system CPU time spent in seconds.", (field(14) + field(15)) / ticks);
  Family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
         static_cast<double>(limit.rlim_cur));
  Family(out, "process_open_fds", "gauge", "Number of open file descriptors.",
         static_cast<double>(open_fds));
  Family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         field(24) * page);
  Family(out, "process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.",
         BootTimeSeconds() + field(22) / ticks);
  Family(out, "process_threads", "gauge", "Number of OS threads in the process.", field(20));
  Family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", field(23));
  return out.str();
}

}  // namespace pneumo::metrics
