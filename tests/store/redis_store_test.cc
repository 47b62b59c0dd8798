#include "store/redis_store.h"

#include <gtest/gtest.h>

#include "redis_client.h"
#include "redis_server.h"
#include "store_contract.h"

namespace pneumo::store::testing {
namespace {

struct RedisBackend {
  static constexpr char kName[] = "Redis";
  RedisServer server;
  std::string Start() { return server.Start(); }
  Result<std::unique_ptr<ResultStore>> Open() { return OpenStore(server.Url("")); }
  std::string Restart() {
    server.Stop();  // SIGKILL: only what Redis fsynced survives
    return server.Start();
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, StoreContract, RedisBackend, BackendNames);

class RedisStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ResultStore> OpenOrFail(const std::string& url) {
    auto store = OpenStore(url);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }
};

TEST_F(RedisStoreTest, AuthenticatesWithThePasswordFromTheUrl) {
  RedisServer redis("p@ss/word");
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenOrFail(redis.Url("p@ss/word"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(MakeRecord("authed", 1)));
  EXPECT_TRUE(store->Get("authed"));
  EXPECT_EQ(store->Describe(), "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0");
}

TEST_F(RedisStoreTest, RejectsAWrongPasswordWithAClearMessage) {
  RedisServer redis("right");
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenStore(redis.Url("wrong"));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument) << store.error().ToString();
  EXPECT_NE(store.error().message.find("password"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find(std::to_string(redis.port())), std::string::npos);
  EXPECT_EQ(store.error().message.find("wrong"), std::string::npos) << "leaks the password";
}

TEST_F(RedisStoreTest, RejectsAMissingPasswordWithAClearMessage) {
  RedisServer redis("needed");
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenStore(redis.Url(""));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument) << store.error().ToString();
  EXPECT_NE(store.error().message.find("requires a password"), std::string::npos)
      << store.error().message;
}

TEST_F(RedisStoreTest, ReportsAnUnreachableServerAsUnavailable) {
  const int port = FreePort();
  auto store = OpenStore("redis://127.0.0.1:" + std::to_string(port) + "/0");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << store.error().message;
}

TEST_F(RedisStoreTest, ReturnsUnavailableDuringAnOutageAndRecoversAfterwards) {
  RedisServer redis;
  std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenOrFail(redis.Url(""));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(MakeRecord("before", 1)));

  redis.Stop();
  const std::string address = "127.0.0.1:" + std::to_string(redis.port());
  auto put = store->Put(MakeRecord("during", 2));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable) << put.error().ToString();
  EXPECT_NE(put.error().message.find(address), std::string::npos) << put.error().message;
  auto listed = store->List(1, 20);
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store->Get("before").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store->GetPreview("before").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store->Ping().error().code, ErrorCode::kUnavailable);

  problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto put_again = store->Put(MakeRecord("after", 3));
  ASSERT_TRUE(put_again) << put_again.error().ToString();
  auto ids = store->List(1, 20);
  ASSERT_TRUE(ids) << ids.error().ToString();
  EXPECT_EQ(ids->total, 2);
  auto before = store->Get("before");
  ASSERT_TRUE(before) << before.error().ToString();
  ExpectSameRecord(MakeRecord("before", 1), *before, /*with_preview=*/true);
}

TEST_F(RedisStoreTest, RecoversTransparentlyWhenRedisRestartsBetweenCalls) {
  RedisServer redis;
  std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenOrFail(redis.Url(""));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(MakeRecord("first", 1)));
  redis.Stop();
  problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  // The store still holds the dead connection; its first call must reconnect, not fail.
  auto put = store->Put(MakeRecord("second", 2));
  ASSERT_TRUE(put) << put.error().ToString();
  auto listed = store->List(1, 20);
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->total, 2);
}

TEST_F(RedisStoreTest, KeepsDatabasesApart) {
  RedisServer redis;
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto one = OpenOrFail(redis.Url("", 1));
  auto two = OpenOrFail(redis.Url("", 2));
  ASSERT_TRUE(one && two);
  ASSERT_TRUE(one->Put(MakeRecord("only-in-1", 1)));
  EXPECT_EQ(two->Get("only-in-1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(two->List(1, 10)->total, 0);
  EXPECT_EQ(one->List(1, 10)->total, 1);
}

TEST_F(RedisStoreTest, TwoServersSharingOneRedisSeeOneHistory) {
  RedisServer redis;
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto a = OpenOrFail(redis.Url(""));
  auto b = OpenOrFail(redis.Url(""));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Put(MakeRecord("from-a", 1)));
  auto dup = b->Put(MakeRecord("from-a", 2));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(b->Put(MakeRecord("from-b", 2)));
  EXPECT_EQ(a->List(1, 10)->total, 2);
}

TEST_F(RedisStoreTest, KeepsItsConnectionWhenARecordIsMissing) {
  RedisServer redis;
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenOrFail(redis.Url(""));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(MakeRecord("present", 1)));
  RedisClient cli(redis.port());
  ASSERT_TRUE(cli.ok());
  const long long before = cli.ConnectionsReceived();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(store->Get("missing").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store->GetPreview("missing").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store->Delete("missing").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store->Put(MakeRecord("present", 2)).error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(store->Get("present"));
  EXPECT_EQ(cli.ConnectionsReceived(), before) << "a missing record or a duplicate reconnected";
}

TEST_F(RedisStoreTest, LeavesNoWatchBehindAfterARefusedPut) {
  RedisServer redis;
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  auto store = OpenOrFail(redis.Url(""));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(MakeRecord("taken", 1)));
  ASSERT_EQ(store->Put(MakeRecord("taken", 2)).error().code, ErrorCode::kInvalidArgument);
  ASSERT_EQ(store->Delete("missing").error().code, ErrorCode::kNotFound);
  // Were the refused Put's WATCH on "taken" (or the Delete's on "missing") still in force, these
  // writes would abort the next transaction, and the Put below would be taken for a duplicate.
  RedisClient cli(redis.port());
  ASSERT_EQ(cli.Run({"HSET", "pneumo:prediction:taken", "label", "NORMAL"}), "0");
  ASSERT_EQ(cli.Run({"SET", "pneumo:prediction:missing", "x"}), "OK");
  auto put = store->Put(MakeRecord("next", 3));
  ASSERT_TRUE(put) << put.error().ToString();
  EXPECT_TRUE(store->Get("next"));
}

}  // namespace
}  // namespace pneumo::store::testing
