#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace pneumo::log {

void Init(std::string_view level) {
  // Logs go to stderr so that --json output on stdout stays machine-readable.
  auto logger = spdlog::stderr_color_mt("pneumo");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace pneumo::log
