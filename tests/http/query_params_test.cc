#include "http/query_params.h"

#include <gtest/gtest.h>

#include <limits>

namespace pneumo::http {
namespace {

TEST(ParseStrictInt, TakesDigitsWithAnOptionalMinusAndNothingElse) {
  EXPECT_EQ(ParseStrictInt("20"), 20);
  EXPECT_EQ(ParseStrictInt("-3"), -3);
  EXPECT_EQ(ParseStrictInt("0"), 0);
  EXPECT_EQ(ParseStrictInt("2147483647"), std::numeric_limits<int>::max());
  for (const char* bad : {"", " 1", "1 ", "+1", "1.0", "1e3", "0x10", "--1", "2147483648", "-"}) {
    EXPECT_FALSE(ParseStrictInt(bad)) << bad;
  }
}

TEST(ParseCompatPage, ReadsWhatPythonsIntReadsAndOtherwiseGivesPageOne) {
  EXPECT_EQ(ParseCompatPage("3"), 3);
  EXPECT_EQ(ParseCompatPage(" -3\t"), -3);
  EXPECT_EQ(ParseCompatPage("+7"), 7);
  EXPECT_EQ(ParseCompatPage("99999999999"), std::numeric_limits<int>::max());
  EXPECT_EQ(ParseCompatPage("-99999999999"), std::numeric_limits<int>::min());
  for (const char* other : {"", "abc", "1.5", "--2", "+-2", "2 3", "-", "9999999999x"}) {
    EXPECT_EQ(ParseCompatPage(other), 1) << other;
  }
}

}  // namespace
}  // namespace pneumo::http
