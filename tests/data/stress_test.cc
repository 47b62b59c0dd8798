#include "data/stress.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>

namespace pneumo::data {
namespace {

// A chest-film-like test image: bright body, two darker lungs, a little texture.
cv::Mat Film() {
  cv::Mat img(224, 224, CV_32FC1, cv::Scalar(0.55));
  cv::ellipse(img, {75, 112}, {32, 75}, 0, 0, 360, cv::Scalar(0.25), -1);
  cv::ellipse(img, {149, 112}, {32, 75}, 0, 0, 360, cv::Scalar(0.28), -1);
  cv::Mat texture(img.size(), CV_32FC1);
  cv::theRNG().state = 5;
  cv::randu(texture, 0.0, 0.1);
  cv::GaussianBlur(img + texture, img, cv::Size(0, 0), 1.5);
  return img;
}

TEST(StressConditions, HaveUniqueNamesAndStartWithClean) {
  const auto conditions = StressConditions();
  ASSERT_GE(conditions.size(), 15u);
  EXPECT_EQ(conditions.front().name, "clean");
  std::set<std::string> names;
  for (const auto& c : conditions) {
    EXPECT_TRUE(names.insert(std::string(c.name)).second) << c.name;
    EXPECT_FALSE(c.description.empty());
    EXPECT_EQ(FindStressCondition(c.name), &c);
  }
  EXPECT_EQ(FindStressCondition("no such"), nullptr);
}

TEST(StressConditions, AreDeterministicKeepSizeTypeAndRangeAndChangeTheImage) {
  const cv::Mat film = Film();
  for (const auto& c : StressConditions()) {
    SCOPED_TRACE(std::string(c.name));
    const cv::Mat a = ApplyStress(c, film, StressSeed(42, 3)),
                  b = ApplyStress(c, film, StressSeed(42, 3));
    ASSERT_EQ(a.size(), film.size());
    ASSERT_EQ(a.type(), CV_32FC1);
    EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0) << "same seed, same pixels";
    double lo, hi;
    cv::minMaxLoc(a, &lo, &hi);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);
    const double change = cv::norm(a, film, cv::NORM_L1) / static_cast<double>(film.total());
    if (c.name == "clean") {
      EXPECT_EQ(change, 0.0);
    } else {
      EXPECT_GT(change, 1e-3) << "a shift must shift something";
    }
  }
}

TEST(StressConditions, NoiseDependsOnTheSeed) {
  const auto* noise = FindStressCondition("noise");
  ASSERT_NE(noise, nullptr);
  const cv::Mat film = Film();
  EXPECT_GT(cv::norm(ApplyStress(*noise, film, StressSeed(42, 1)),
                     ApplyStress(*noise, film, StressSeed(42, 2)), cv::NORM_L1),
            0.0);
}

TEST(StressConditions, BordersAndZoomChangeTheFraming) {
  const cv::Mat film = Film();
  const cv::Mat bordered = ApplyStress(*FindStressCondition("border_added"), film, 1);
  EXPECT_GT(cv::mean(bordered.colRange(0, 10))[0], 0.95) << "a white band on the left";
  const cv::Mat zoomed_out = ApplyStress(*FindStressCondition("zoom_out"), film, 1);
  EXPECT_LT(cv::mean(zoomed_out.rowRange(0, 10))[0], 0.01) << "a black surround";
}

}  // namespace
}  // namespace pneumo::data
