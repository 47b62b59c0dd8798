// One logger for the whole program (spdlog), key=value fields, no health data.
//
//   pneumo::log::Init(pneumo::log::Level::kInfo);
//   spdlog::info("event=train_epoch epoch={} loss={:.4f}", epoch, loss);
//
//   pneumo::log::ScopedRequestId tag(request_id);   // while it lives, every line this thread
//   spdlog::error("event=store_put_failed");         // logs ends with " request_id=<id>"
//
// Never log file names, patient ids or pixels: only counts, ids we generated, timings and codes.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace pneumo::log {

// Sets the level from "trace|debug|info|warn|error|off"; unknown names fall back to info.
void Init(std::string_view level = "info");

// Tags the lines the calling thread logs, while this object lives, with the id of the request it
// serves (the HTTP layer takes one per request). Restores the previous tag when it ends, so
// scopes nest. Not for sharing between threads.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string_view request_id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// The calling thread's current request id; empty outside any ScopedRequestId.
std::string_view CurrentRequestId();

}  // namespace pneumo::log
