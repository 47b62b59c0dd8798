#include "core/error.h"

#include <gtest/gtest.h>

#include <set>

namespace pneumo {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return Fail(ErrorCode::kInvalidArgument, "must be positive");
  return x;
}

TEST(Error, CarriesCodeAndMessageThroughResult) {
  auto bad = ParsePositive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().ToString(), "invalid_argument: must be positive");
  EXPECT_EQ(*ParsePositive(3), 3);
}

TEST(Error, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(ErrorCode::kInternal); ++c)
    names.insert(ErrorCodeName(static_cast<ErrorCode>(c)));
  EXPECT_EQ(names.size(), static_cast<std::size_t>(ErrorCode::kInternal) + 1);
}

}  // namespace
}  // namespace pneumo
