// The account and audit contract on a real redis-server, plus Redis-only behaviour: sessions
// expire by themselves, and an outage gives kUnavailable.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "account_store_contract.h"
#include "redis_client.h"
#include "redis_server.h"

namespace pneumo::store::testing {
namespace {

struct RedisBackend {
  static constexpr char kName[] = "Redis";
  RedisServer server{"pw-for-tests"};
  std::string Start() { return server.Start(); }
  std::string Url() const { return server.Url("pw-for-tests"); }
  std::string Restart() {
    server.Stop();  // SIGKILL: only what Redis fsynced survives
    return server.Start();
  }
  // LSET pneumo:audit <seq-1> with the outcome field rewritten, as someone with the password
  // would do with redis-cli.
  std::string AlterAuditOutcome(std::int64_t seq, const std::string& outcome) {
    redisContext* c = redisConnect("127.0.0.1", server.port());
    if (!c || c->err) return "cannot connect to redis";
    std::string problem;
    auto* auth = static_cast<redisReply*>(redisCommand(c, "AUTH %s", "pw-for-tests"));
    freeReplyObject(auth);
    auto* got = static_cast<redisReply*>(
        redisCommand(c, "LINDEX pneumo:audit %lld", static_cast<long long>(seq - 1)));
    if (!got || got->type != REDIS_REPLY_STRING) {
      problem = "no audit entry " + std::to_string(seq);
    } else {
      std::string text(got->str, got->len);
      const std::string from = "7:success";
      const auto at = text.find(from);
      if (at == std::string::npos) {
        problem = "entry has no outcome 'success'";
      } else {
        text.replace(at, from.size(), std::to_string(outcome.size()) + ":" + outcome);
        auto* set = static_cast<redisReply*>(redisCommand(c, "LSET pneumo:audit %lld %b",
                                                          static_cast<long long>(seq - 1),
                                                          text.data(), text.size()));
        if (!set || set->type == REDIS_REPLY_ERROR) problem = "LSET failed";
        freeReplyObject(set);
      }
    }
    freeReplyObject(got);
    redisFree(c);
    return problem;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, AccountStoreContract, RedisBackend, AccountBackendNames);

TEST(RedisAccountStore, ForgetsASessionAtItsAbsoluteExpiry) {
  RedisServer redis;
  ASSERT_EQ(redis.Start(), "");
  auto accounts = OpenAccountStore(redis.Url(""));
  ASSERT_TRUE(accounts) << accounts.error().ToString();
  ASSERT_TRUE((*accounts)->CreateUser(MakeUser("ada")));
  SessionRecord session = MakeSession("h1", "ada");
  session.expires_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() +
                          300;
  ASSERT_TRUE((*accounts)->CreateSession(session));
  EXPECT_TRUE((*accounts)->GetSession("h1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ((*accounts)->GetSession("h1").error().code, ErrorCode::kNotFound);
}

TEST(RedisAccountStore, ReportsAnOutageAsUnavailableAndRecovers) {
  RedisServer redis;
  ASSERT_EQ(redis.Start(), "");
  auto accounts = OpenAccountStore(redis.Url(""));
  auto audit = OpenAuditStore(redis.Url(""));
  ASSERT_TRUE(accounts && audit);
  ASSERT_TRUE((*accounts)->CreateUser(MakeUser("ada")));
  redis.Stop();
  EXPECT_EQ((*accounts)->GetUser("ada").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ((*audit)->Append(MakeEvent("ada", "x.y", 1)).error().code, ErrorCode::kUnavailable);
  ASSERT_EQ(redis.Start(), "");
  EXPECT_TRUE((*accounts)->GetUser("ada"));
  EXPECT_TRUE((*audit)->Append(MakeEvent("ada", "x.y", 1)));
}

TEST(RedisAccountStore, KeepsItsConnectionWhenARecordIsMissing) {
  RedisServer redis;
  ASSERT_EQ(redis.Start(), "");
  auto accounts = OpenAccountStore(redis.Url(""));
  ASSERT_TRUE(accounts) << accounts.error().ToString();
  ASSERT_TRUE((*accounts)->CreateUser(MakeUser("ada")));
  RedisClient cli(redis.port());
  ASSERT_TRUE(cli.ok());
  const long long before = cli.ConnectionsReceived();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*accounts)->GetUser("nobody").error().code, ErrorCode::kNotFound);
    EXPECT_EQ((*accounts)->GetSession("nothing").error().code, ErrorCode::kNotFound);
  }
  EXPECT_EQ(cli.ConnectionsReceived(), before) << "a missing record reconnected";
}

TEST(RedisAccountStore, DropsTheConnectionWhenAFailureLeavesAWatchOpen) {
  RedisServer redis;
  ASSERT_EQ(redis.Start(), "");
  auto accounts = OpenAccountStore(redis.Url(""));
  ASSERT_TRUE(accounts) << accounts.error().ToString();
  ASSERT_TRUE((*accounts)->CreateUser(MakeUser("ada")));
  ASSERT_TRUE((*accounts)->CreateSession(MakeSession("h1", "ada")));
  // TouchSession WATCHes the session before it finds it missing, and returns without UNWATCH.
  ASSERT_EQ((*accounts)->TouchSession("gone", 5).error().code, ErrorCode::kNotFound);
  // A WATCH on "gone" still in force would abort the next touch's EXEC, which TouchSession takes
  // for a concurrent touch and reports as done: the new last_seen_ms would be lost.
  RedisClient cli(redis.port());
  ASSERT_EQ(cli.Run({"SET", "pneumo:session:gone", "x"}), "OK");
  ASSERT_TRUE((*accounts)->TouchSession("h1", 1'764'600'123'456));
  auto session = (*accounts)->GetSession("h1");
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_EQ(session->last_seen_ms, 1'764'600'123'456);
}

TEST(RedisAccountStore, RefusesAWrongPassword) {
  RedisServer redis("right");
  ASSERT_EQ(redis.Start(), "");
  auto accounts = OpenAccountStore(redis.Url("wrong"));
  ASSERT_FALSE(accounts);
  EXPECT_EQ(accounts.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(accounts.error().message.find("wrong"), std::string::npos) << "leaks the password";
}

}  // namespace
}  // namespace pneumo::store::testing
