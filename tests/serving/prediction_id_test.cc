#include "serving/prediction_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace pneumo::serving {
namespace {

TEST(PredictionId, IsTwentySixCrockfordCharacters) {
  const std::string id = NewPredictionId(1764169371532);
  EXPECT_EQ(id.size(), 26u);
  EXPECT_TRUE(IsPredictionId(id)) << id;
  EXPECT_EQ(id.find_first_of("ILOU"), std::string::npos)
      << "Crockford base 32 leaves out I, L, O and U";
}

TEST(PredictionId, SortsByTime) {
  std::vector<std::string> ids;
  for (std::int64_t ms : {1000LL, 1001LL, 5000000LL, 1764169371532LL, 1764169371533LL}) {
    ids.push_back(NewPredictionId(ms));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
}

TEST(PredictionId, DoesNotRepeatWithinOneMillisecond) {
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) seen.insert(NewPredictionId(42));
  EXPECT_EQ(seen.size(), 20000u);
}

TEST(PredictionId, RecognisesOnlyWellFormedIds) {
  EXPECT_FALSE(IsPredictionId(""));
  EXPECT_FALSE(IsPredictionId("01JD3F0Q5C2B6W9Y8K7T4R1M0"));    // 25
  EXPECT_FALSE(IsPredictionId("01JD3F0Q5C2B6W9Y8K7T4R1M0NN"));  // 27
  EXPECT_FALSE(IsPredictionId("01JD3F0Q5C2B6W9Y8K7T4R1M0u"));   // lower case
  EXPECT_FALSE(IsPredictionId("../../../../etc/passwd0000"));
  EXPECT_TRUE(IsPredictionId("01JD3F0Q5C2B6W9Y8K7T4R1M0N"));
}

TEST(IsoUtc, FormatsMillisecondsInUtc) {
  EXPECT_EQ(IsoUtc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(IsoUtc(1764169371532), "2025-11-26T15:02:51.532Z");
  EXPECT_EQ(IsoUtc(1764169371005), "2025-11-26T15:02:51.005Z");
}

}  // namespace
}  // namespace pneumo::serving
