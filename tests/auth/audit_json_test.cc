#include "auth/audit_json.h"

#include <gtest/gtest.h>

namespace pneumo::auth {
namespace {

TEST(AuditJson, RendersEveryFieldWithAnIsoTime) {
  store::AuditEntry e{.seq = 7,
                      .time_ms = 1'764'630'300'123,
                      .user = "ada",
                      .role = "doctor",
                      .action = "prediction.view",
                      .target_id = "01ABC",
                      .client_address = "10.0.0.7",
                      .request_id = "r1",
                      .outcome = "success",
                      .prev_hash = std::string(64, '0'),
                      .hash = std::string(64, 'f')};
  const auto json = AuditEntryJson(e);
  EXPECT_EQ(json["seq"], 7);
  EXPECT_EQ(json["time"].get<std::string>(), "2025-12-01T23:05:00.123Z");
  EXPECT_EQ(json["time_ms"], 1'764'630'300'123);
  for (const char* key : {"user", "role", "action", "target_id", "client_address", "request_id",
                          "outcome", "prev_hash", "hash"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
}

TEST(AuditJson, ParsesUtcTimesAndRefusesOthers) {
  EXPECT_EQ(*ParseIsoTime("2025-12-01T23:05:00.123Z"), 1'764'630'300'123);
  EXPECT_EQ(*ParseIsoTime("2025-12-01T23:05:00Z"), 1'764'630'300'000);
  EXPECT_EQ(*ParseIsoTime("1970-01-02"), 86'400'000);
  for (const char* bad : {"", "2025", "2025-13-01", "2025-12-01T23:05", "2025-12-01T23:05:00+01:00",
                          "yesterday", "2025-12-01T23:05:00.1Z"}) {
    auto parsed = ParseIsoTime(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

// Seen while fixing what fuzz/query_params_fuzzer.cc found (below): from_chars took "-1" as a
// two-digit field, and timegm moved impossible days and leap seconds into the next month or minute
// instead of refusing them.
TEST(AuditJson, RefusesSignedFieldsImpossibleDaysAndLeapSeconds) {
  for (const char* bad :
       {"2026-12-01T-1:05:00Z", "2026-12-01T23:-5:00Z", "2026-12-01T23:05:-1Z", "2026--1-01",
        "2026-12-+1", "2026-02-31", "2026-02-29", "2026-04-31", "2026-12-01T23:59:60Z"}) {
    EXPECT_FALSE(ParseIsoTime(bad)) << bad;
  }
  EXPECT_TRUE(ParseIsoTime("2024-02-29"));  // a leap year's
  EXPECT_TRUE(ParseIsoTime("2000-02-29"));
}

// Found by fuzz/query_params_fuzzer.cc: strftime's %Y wrote year 26 as "26" and negative times
// got a negative millisecond field, text that ParseIsoTime then refused.
TEST(AuditJson, WritesEveryTimeItParsesAsTextThatParsesBack) {
  EXPECT_EQ(IsoTimeMs(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(IsoTimeMs(*ParseIsoTime("0026-12-01")), "0026-12-01T00:00:00.000Z");
  for (const char* text :
       {"0000-01-01T00:00:00.000Z", "0026-12-01T23:05:00.123Z", "1969-12-31T23:59:59.999Z",
        "2026-12-01T23:05:00.000Z", "9999-12-31T23:59:59.999Z"}) {
    auto ms = ParseIsoTime(text);
    ASSERT_TRUE(ms) << text;
    EXPECT_EQ(IsoTimeMs(*ms), text);
  }
}

}  // namespace
}  // namespace pneumo::auth
