#include "auth/audit_json.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace pneumo::auth {

std::string IsoTimeMs(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buffer, n) + millis;
}

Result<std::int64_t> ParseIsoTime(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "times are UTC, as 2026-12-01, 2026-12-01T23:05:00Z or 2026-12-01T23:05:00.123Z");
  };
  auto number = [&](std::size_t at, std::size_t digits, int& out) {
    if (text.size() < at + digits) return false;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + digits, out);
    return ec == std::errc() && end == text.data() + at + digits;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (text.size() < 10 || !number(0, 4, year) || text[4] != '-' || !number(5, 2, month) ||
      text[7] != '-' || !number(8, 2, day)) {
    return bad();
  }
  if (text.size() > 10) {
    if (text.size() < 20 || text[10] != 'T' || !number(11, 2, hour) || text[13] != ':' ||
        !number(14, 2, minute) || text[16] != ':' || !number(17, 2, second)) {
      return bad();
    }
    std::string_view rest = text.substr(19);
    if (rest.starts_with('.')) {
      if (rest.size() != 5 || !number(20, 3, millis)) return bad();
      rest.remove_prefix(4);
    }
    if (rest != "Z") return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t seconds = timegm(&tm);
  return static_cast<std::int64_t>(seconds) * 1000 + millis;
}

nlohmann::json AuditEntryJson(const store::AuditEntry& e) {
  return {{"seq", e.seq},
          {"time", IsoTimeMs(e.time_ms)},
          {"time_ms", e.time_ms},
          {"user", e.user},
          {"role", e.role},
          {"action", e.action},
          {"target_id", e.target_id},
          {"client_address", e.client_address},
          {"request_id", e.request_id},
          {"outcome", e.outcome},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

}  // namespace pneumo::auth
