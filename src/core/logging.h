// One logger for the whole program (spdlog), key=value fields, no health data.
//
//   pneumo::log::Init(pneumo::log::Level::kInfo);
//   spdlog::info("event=train_epoch epoch={} loss={:.4f}", epoch, loss);
//
// Never log file names, patient ids or pixels: only counts, ids we generated, timings and codes.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace pneumo::log {

// Sets the level from "trace|debug|info|warn|error|off"; unknown names fall back to info.
void Init(std::string_view level = "info");

}  // namespace pneumo::log
