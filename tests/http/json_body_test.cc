#include "http/json_body.h"

#include <gtest/gtest.h>

#include <string>

namespace pneumo::http {
namespace {

TEST(JsonBody, NestingDepthCountsBracketsOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth(R"({"user": "ada"})"), 1);
  EXPECT_EQ(JsonNestingDepth(R"({"a": [1, {"b": []}]})"), 4);
  EXPECT_EQ(JsonNestingDepth(R"({"s": "[[[[{{{{\"]]]"})"), 1) << "brackets in a string";
  EXPECT_EQ(JsonNestingDepth("[[[["), 4) << "unbalanced still counts";
  EXPECT_EQ(JsonNestingDepth(""), 0);
}

TEST(JsonBody, AcceptsAnObjectWithinTheLimits) {
  auto body = ParseJsonObject(R"({"user": "ada", "password": "x"})");
  ASSERT_TRUE(body);
  EXPECT_EQ(body->value("user", ""), "ada");
  // kMaxJsonDepth levels in all, the object included, is allowed.
  const std::string deepest =
      "{\"a\":" + std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']') + "}";
  EXPECT_TRUE(ParseJsonObject(deepest));
}

TEST(JsonBody, RefusesTooDeepTooLargeAndNonObjects) {
  std::string deep =
      "{\"a\":" + std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']') + "}";
  auto nested = ParseJsonObject(deep);
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().status, 400);
  EXPECT_NE(nested.error().message.find("nests deeper"), std::string::npos);
  // A million brackets is refused before the parser sees it.
  EXPECT_EQ(ParseJsonObject(std::string(60000, '[')).error().status, 400);
  auto large = ParseJsonObject("{\"a\":\"" + std::string(kMaxJsonBodyBytes, 'x') + "\"}");
  ASSERT_FALSE(large);
  EXPECT_EQ(large.error().status, 413);
  EXPECT_EQ(large.error().code, "payload_too_large");
  for (const char* text : {"[]", "\"text\"", "42", "not json", ""}) {
    auto refused = ParseJsonObject(text);
    ASSERT_FALSE(refused) << text;
    EXPECT_EQ(refused.error().status, 400) << text;
    EXPECT_EQ(refused.error().code, "bad_request") << text;
  }
}

}  // namespace
}  // namespace pneumo::http
