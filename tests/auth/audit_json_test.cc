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

}  // namespace
}  // namespace pneumo::auth
