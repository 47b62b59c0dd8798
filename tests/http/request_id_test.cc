#include "http/request_id.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace pneumo::http {
namespace {

TEST(RequestIdFor, KeepsASaneIdTheClientOrProxySent) {
  EXPECT_EQ(RequestIdFor("3f2a9c41e0b84d7f9a1c2b3d4e5f6a7b"), "3f2a9c41e0b84d7f9a1c2b3d4e5f6a7b");
  EXPECT_EQ(RequestIdFor("req-42.retry_1:a"), "req-42.retry_1:a");
}

TEST(RequestIdFor, ReplacesAnIdThatCouldWriteIntoTheLogs) {
  const std::regex generated("[0-9a-f]{32}");
  for (const std::string bad :
       {std::string(), std::string("a b"), std::string("x\nlevel=error"), std::string("é"),
        std::string(129, 'a'), std::string("id\"quoted\"")}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsSaneRequestId(bad));
    const std::string id = RequestIdFor(bad);
    EXPECT_TRUE(std::regex_match(id, generated)) << id;
  }
  EXPECT_TRUE(IsSaneRequestId(std::string(128, 'a')));
}

TEST(RequestIdFor, GeneratesADifferentIdEachTime) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(RequestIdFor(""));
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace pneumo::http
