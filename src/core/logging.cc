#include "core/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>

namespace pneumo::log {
namespace {

thread_local std::string current_request_id;

// The pattern's %*: " request_id=<id>" on lines logged while a request is being served.
class RequestIdFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (current_request_id.empty()) return;
    constexpr std::string_view kKey = " request_id=";
    dest.append(kKey.data(), kKey.data() + kKey.size());
    dest.append(current_request_id.data(), current_request_id.data() + current_request_id.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

}  // namespace

void Init(std::string_view level) {
  // Logs go to stderr so that --json output on stdout stays machine-readable.
  auto logger = spdlog::stderr_color_mt("pneumo");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<RequestIdFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v%*");
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

ScopedRequestId::ScopedRequestId(std::string_view request_id)
    : previous_(std::move(current_request_id)) {
  current_request_id.assign(request_id);
}

ScopedRequestId::~ScopedRequestId() { current_request_id = std::move(previous_); }

std::string_view CurrentRequestId() { return current_request_id; }

}  // namespace pneumo::log
