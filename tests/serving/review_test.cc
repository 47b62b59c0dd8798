#include "serving/review.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

namespace pneumo::serving {
namespace {

image::DecodedImage Gray(int width, int height, bool colour = false) {
  image::DecodedImage d;
  d.width = width;
  d.height = height;
  d.colour = colour;
  d.gray = cv::Mat(std::min(height, 64), std::min(width, 64), CV_32FC1);
  cv::theRNG().state = 7;
  cv::randu(d.gray, 0.0, 1.0);
  return d;
}

TEST(Review, FlagsProbabilitiesInsideTheBandOnly) {
  const ReviewPolicy policy{.band = 0.15};
  EXPECT_TRUE(UncertaintyReviewReasons(0.98, 0.66, policy).empty());
  EXPECT_TRUE(UncertaintyReviewReasons(0.02, 0.66, policy).empty());
  EXPECT_TRUE(UncertaintyReviewReasons(0.51, 0.66, policy).empty()) << "0.15 away is outside";
  auto reasons = UncertaintyReviewReasons(0.61, 0.66, policy);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("0.61"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[0].find("0.66"), std::string::npos) << reasons[0];
  EXPECT_EQ(UncertaintyReviewReasons(0.70, 0.66, policy).size(), 1u);
  EXPECT_TRUE(UncertaintyReviewReasons(0.70, 0.66, {.band = 0}).empty()) << "band 0 turns it off";
}

TEST(Review, AcceptsAnOrdinaryRadiograph) {
  EXPECT_TRUE(InputReviewReasons(Gray(1800, 2000), {}).empty());
}

TEST(Review, FlagsInputsUnlikeAChestXray) {
  auto has = [](const std::vector<std::string>& reasons, const char* word) {
    for (const auto& r : reasons) {
      if (r.find(word) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(InputReviewReasons(Gray(800, 800, /*colour=*/true), {}), "colour"));
  EXPECT_TRUE(has(InputReviewReasons(Gray(48, 60), {}), "small"));
  EXPECT_TRUE(has(InputReviewReasons(Gray(3000, 900), {}), "aspect ratio 3.3:1"));
  auto blank = Gray(512, 512);
  blank.gray.setTo(0.5);
  EXPECT_TRUE(has(InputReviewReasons(blank, {}), "contrast"));
}

}  // namespace
}  // namespace pneumo::serving
