#include "auth/audit_json.h"

#include <cstdio>
#include <ctime>

namespace pneumo::auth {

std::string IsoTimeMs(std::int64_t ms) {
  // Floor division: -1 ms is 1969-12-31T23:59:59.999Z, not 1970-01-01T00:00:00.-01Z.
  std::int64_t seconds = ms / 1000, millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  // %04d rather than strftime's %Y, which writes year 26 as "26" (ParseIsoTime wants 4 digits).
  char text[64];
  std::snprintf(text, sizeof text, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                static_cast<long long>(tm.tm_year) + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return text;
}

Result<std::int64_t> ParseIsoTime(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "times are UTC, as 2026-12-01, 2026-12-01T23:05:00Z or 2026-12-01T23:05:00.123Z");
  };
  // Exactly `digits` decimal digits: from_chars alone would take "-1" as a two-digit hour.
  auto number = [&](std::size_t at, std::size_t digits, int& out) {
    if (text.size() < at + digits) return false;
    out = 0;
    for (std::size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
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
  // A day the month does not have (2026-02-31) is refused, not moved into the next month; a leap
  // second (:60) has no Unix time of its own and is refused too.
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0) ||
      hour > 23 || minute > 59 || second > 59) {
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
