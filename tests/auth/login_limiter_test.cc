#include "auth/login_limiter.h"

#include <gtest/gtest.h>

namespace pneumo::auth {
namespace {

constexpr std::int64_t kMinute = 60'000;

TEST(LoginLimiter, RefusesAnAccountAfterItsLimitAndSaysHowLongToWait) {
  LoginLimiter limiter({.per_account = 5, .per_address = 100, .window = std::chrono::minutes(15)});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(limiter.Check("ada", "10.0.0.1", i * kMinute)) << "attempt " << i;
    limiter.RecordFailure("ada", "10.0.0.1", i * kMinute);
  }
  auto refused = limiter.Check("ada", "10.0.0.2", 5 * kMinute);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  // The first failure (t=0) leaves the 15-minute window at t=15 min: 10 minutes from now.
  EXPECT_NE(refused.error().message.find("try again in 10 min"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("account"), std::string::npos);
  EXPECT_TRUE(limiter.Check("bob", "10.0.0.1", 5 * kMinute)) << "other accounts are unaffected";
  EXPECT_FALSE(limiter.Check("ada", "10.0.0.1", 15 * kMinute - 1));
  EXPECT_TRUE(limiter.Check("ada", "10.0.0.1", 15 * kMinute)) << "the oldest failure expired";
}

TEST(LoginLimiter, RefusesAnAddressSprayingManyAccounts) {
  LoginLimiter limiter({.per_account = 5, .per_address = 20, .window = std::chrono::minutes(15)});
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(limiter.Check(std::string("user").append(std::to_string(i)), "10.9.9.9", 1000));
    limiter.RecordFailure(std::string("user").append(std::to_string(i)), "10.9.9.9", 1000);
  }
  auto refused = limiter.Check("fresh", "10.9.9.9", 2000);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_NE(refused.error().message.find("address"), std::string::npos);
  EXPECT_TRUE(limiter.Check("fresh", "10.1.1.1", 2000));
}

TEST(LoginLimiter, ASuccessClearsTheAccountButNotTheAddress) {
  LoginLimiter limiter({.per_account = 3, .per_address = 4, .window = std::chrono::minutes(15)});
  for (int i = 0; i < 3; ++i) limiter.RecordFailure("ada", "10.0.0.1", 0);
  EXPECT_FALSE(limiter.Check("ada", "10.0.0.1", 1));
  limiter.RecordSuccess("ada");
  EXPECT_TRUE(limiter.Check("ada", "10.0.0.1", 1));
  limiter.RecordFailure("ada", "10.0.0.1", 2);
  EXPECT_FALSE(limiter.Check("bob", "10.0.0.1", 3)) << "the address still has 4 failures";
}

TEST(LoginLimiter, DescribesWaitsInWords) {
  EXPECT_EQ(DescribeWait(1), "1 s");
  EXPECT_EQ(DescribeWait(45'000), "45 s");
  EXPECT_EQ(DescribeWait(250'000), "4 min 10 s");
  EXPECT_EQ(DescribeWait(600'000), "10 min");
  EXPECT_EQ(DescribeWait(3'720'000), "1 h 2 min");
}

}  // namespace
}  // namespace pneumo::auth
