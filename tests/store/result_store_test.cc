#include "store/result_store.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace pneumo::store {
namespace {

TEST(ParseStoreUrl, ReadsASqlitePath) {
  auto url = ParseStoreUrl("sqlite:/var/lib/pneumo/results.db");
  ASSERT_TRUE(url) << url.error().ToString();
  EXPECT_EQ(url->kind, StoreUrl::Kind::kSqlite);
  EXPECT_EQ(url->path, "/var/lib/pneumo/results.db");

  auto relative = ParseStoreUrl("sqlite:data/results.db");
  ASSERT_TRUE(relative);
  EXPECT_EQ(relative->path, "data/results.db");

  auto slashes = ParseStoreUrl("sqlite:///tmp/r.db");
  ASSERT_TRUE(slashes);
  EXPECT_EQ(slashes->path, "/tmp/r.db");
}

TEST(ParseStoreUrl, ReadsAFullRedisUrl) {
  auto url = ParseStoreUrl("redis://:p@ss/word@cache.internal:6380/3");
  ASSERT_TRUE(url) << url.error().ToString();
  EXPECT_EQ(url->kind, StoreUrl::Kind::kRedis);
  EXPECT_EQ(url->password, "p@ss/word");
  EXPECT_EQ(url->host, "cache.internal");
  EXPECT_EQ(url->port, 6380);
  EXPECT_EQ(url->db, 3);
}

TEST(ParseStoreUrl, DefaultsTheRedisPortAndDatabase) {
  auto url = ParseStoreUrl("redis://localhost");
  ASSERT_TRUE(url) << url.error().ToString();
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 6379);
  EXPECT_EQ(url->db, 0);
  EXPECT_EQ(url->password, "");
  auto slash = ParseStoreUrl("redis://localhost:7000/");
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->port, 7000);
  EXPECT_EQ(slash->db, 0);
}

TEST(ParseStoreUrl, RejectsMalformedUrlsWithAMessage) {
  for (const char* bad :
       {"", "results.db", "postgres://db/x", "sqlite:", "sqlite://", "redis://", "redis://:6379",
        "redis://host:0", "redis://host:65536", "redis://host:port", "redis://host:6379/x",
        "redis://host:6379/-1", "redis://user:pw@host", "redis://:@host", "redis://pw@host"}) {
    auto url = ParseStoreUrl(bad);
    ASSERT_FALSE(url) << "accepted '" << bad << "'";
    EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_FALSE(url.error().message.empty()) << bad;
  }
}

TEST(ParseStoreUrl, NeverEchoesAPasswordInErrors) {
  for (const char* bad : {"rediss://:topsecret@host:6379", "redis://:topsecret@host:99999",
                          "redis://:topsecret@host:1/x", "redis://:topsecret@"}) {
    auto url = ParseStoreUrl(bad);
    ASSERT_FALSE(url) << bad;
    EXPECT_EQ(url.error().message.find("topsecret"), std::string::npos) << url.error().message;
  }
}

TEST(OpenStore, OpensSqliteByUrl) {
  pneumo::testing::TempDir dir;
  auto store = OpenStore("sqlite:" + (dir / "sub/results.db").string());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE((*store)->Ping());
  EXPECT_EQ((*store)->Describe(), "sqlite:" + (dir / "sub/results.db").string());
}

TEST(OpenStore, PassesUrlErrorsThrough) {
  auto store = OpenStore("mongodb://x");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(store.error().message.find("sqlite:PATH"), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace pneumo::store
