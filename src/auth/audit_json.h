// Audit entries as JSON, for GET /api/v1/audit and `pneumo audit export` (one object per line).
//
//   std::string line = AuditEntryJson(entry).dump();   // {"seq":1,"time":"2026-...Z",...}
//
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "store/audit_store.h"

namespace pneumo::auth {

// Every field of the entry, time both as "time" (ISO-8601 UTC, milliseconds) and "time_ms".
nlohmann::json AuditEntryJson(const store::AuditEntry& entry);

// "2026-12-01T23:05:00.123Z" for Unix milliseconds.
std::string IsoTimeMs(std::int64_t ms);
// Parses "2026-12-01", "2026-12-01T23:05:00Z" or "...00.123Z" (UTC) into Unix milliseconds.
// kInvalidArgument otherwise.
Result<std::int64_t> ParseIsoTime(std::string_view text);

}  // namespace pneumo::auth
