#include "image/preprocess.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "test_images.h"

namespace pneumo::image {
namespace {

using testing::FailsWith;
using testing::MaxAbsDiff;

cv::Mat Checkerboard(int size) {
  cv::Mat m(size, size, CV_32FC1);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) m.at<float>(y, x) = static_cast<float>((x + y) % 2);
  }
  return m;
}

cv::Mat Random01(int rows, int cols, int seed) {
  cv::Mat m(rows, cols, CV_32FC1);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0.0, 1.0);
  return m;
}

TEST(ResizeForModel, SquashesAnyShapeToTheInputSize) {
  for (const cv::Size size : {cv::Size(300, 200), cv::Size(100, 500), cv::Size(50, 60)}) {
    const cv::Mat out = ResizeForModel(cv::Mat(size, CV_32FC1, cv::Scalar(0.5)), 224);
    EXPECT_EQ(out.rows, 224);
    EXPECT_EQ(out.cols, 224);
    EXPECT_EQ(out.type(), CV_32FC1);
  }
}

TEST(ResizeForModel, KeepsAnEightBitInputEightBit) {
  const cv::Mat out = ResizeForModel(cv::Mat(500, 400, CV_8UC1, cv::Scalar(9)), 224);
  EXPECT_EQ(out.type(), CV_8UC1);
  EXPECT_EQ(out.at<std::uint8_t>(100, 100), 9);
}

TEST(ResizeForModel, AveragesAreasWhenShrinkingSoFinePatternsDoNotAlias) {
  // Halving a 1-pixel checkerboard: area averaging gives flat 0.5; point sampling would give
  // a pure 0 or 1 image, a different picture altogether.
  const cv::Mat out = ResizeForModel(Checkerboard(448), 224);
  double lo = 0, hi = 0;
  cv::minMaxLoc(out, &lo, &hi);
  EXPECT_NEAR(lo, 0.5, 1e-6);
  EXPECT_NEAR(hi, 0.5, 1e-6);
}

TEST(ResizeForModel, MatchesOpenCvAreaWhenShrinkingAndBilinearWhenEnlarging) {
  const cv::Mat big = Random01(700, 500, 1);
  cv::Mat area;
  cv::resize(big, area, cv::Size(224, 224), 0, 0, cv::INTER_AREA);
  EXPECT_EQ(MaxAbsDiff(ResizeForModel(big, 224), area), 0.0);

  const cv::Mat small = Random01(100, 150, 2);
  cv::Mat linear;
  cv::resize(small, linear, cv::Size(224, 224), 0, 0, cv::INTER_LINEAR);
  EXPECT_EQ(MaxAbsDiff(ResizeForModel(small, 224), linear), 0.0);
}

TEST(ResizeForModel, ReturnsACopyThatDoesNotShareTheInputsPixels) {
  cv::Mat in(224, 224, CV_32FC1, cv::Scalar(0.25));
  cv::Mat out = ResizeForModel(in, 224);
  out.setTo(cv::Scalar(1.0));
  EXPECT_EQ(in.at<float>(0, 0), 0.25f);
}

TEST(ResizeForModel, ReturnsAnEmptyMatForAnEmptyImageOrNonPositiveSize) {
  EXPECT_TRUE(ResizeForModel(cv::Mat(), 224).empty());
  EXPECT_TRUE(ResizeForModel(cv::Mat(10, 10, CV_32FC1, cv::Scalar(0)), 0).empty());
}

TEST(NormalizeInPlace, DatasetModeSubtractsTheCardMeanAndDividesByTheCardStd) {
  cv::Mat img(2, 2, CV_32FC1, cv::Scalar(0.5));
  img.at<float>(1, 1) = 1.0f;
  NormalizeInPlace(img, Normalization{.mode = "dataset", .mean = 0.25f, .std = 0.5f});
  EXPECT_NEAR(img.at<float>(0, 0), 0.5f, 1e-6);
  EXPECT_NEAR(img.at<float>(1, 1), 1.5f, 1e-6);
}

TEST(NormalizeInPlace, PerImageModeStandardisesTheImageThenAppliesTheCard) {
  cv::Mat img = Random01(64, 64, 3) * 0.3 + 0.2;  // arbitrary brightness and contrast
  cv::Scalar own_mean, own_std;
  cv::meanStdDev(img, own_mean, own_std);
  const float x = img.at<float>(5, 7);

  NormalizeInPlace(img, Normalization{.mode = "per_image", .mean = 0.1f, .std = 2.0f});

  EXPECT_EQ(img.type(), CV_32FC1);
  EXPECT_NEAR(img.at<float>(5, 7), ((x - own_mean[0]) / own_std[0] - 0.1) / 2.0, 1e-5);
  cv::Scalar mean, std;
  cv::meanStdDev(img, mean, std);
  EXPECT_NEAR(mean[0], -0.1 / 2.0, 1e-5);
  EXPECT_NEAR(std[0], 1.0 / 2.0, 1e-5);
}

TEST(NormalizeInPlace, PerImageModeIgnoresGlobalBrightnessAndContrast) {
  const cv::Mat base = Random01(32, 32, 4) * 0.5;
  cv::Mat dim = base.clone();
  cv::Mat bright = base * 1.5 + 0.2;
  const Normalization card{.mode = "per_image", .mean = 0.0f, .std = 1.0f};
  NormalizeInPlace(dim, card);
  NormalizeInPlace(bright, card);
  EXPECT_LT(MaxAbsDiff(dim, bright), 1e-4);
}

TEST(NormalizeInPlace, PerImageModeLeavesAConstantImageFinite) {
  cv::Mat img(8, 8, CV_32FC1, cv::Scalar(0.7));
  NormalizeInPlace(img, Normalization{.mode = "per_image", .mean = 0.5f, .std = 0.25f});
  EXPECT_TRUE(cv::checkRange(img));
  EXPECT_NEAR(img.at<float>(3, 3), (0.0 - 0.5) / 0.25, 1e-5);
}

TEST(ValidateNormalization, AcceptsBothModes) {
  EXPECT_TRUE(ValidateNormalization(Normalization{.mode = "per_image"}).has_value());
  EXPECT_TRUE(ValidateNormalization(Normalization{.mode = "dataset", .mean = 0.48f, .std = 0.23f})
                  .has_value());
}

TEST(ValidateNormalization, RejectsAnUnknownModeAndAnUnusableStd) {
  EXPECT_TRUE(FailsWith(ValidateNormalization(Normalization{.mode = "imagenet"}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ValidateNormalization(Normalization{.mode = "dataset", .std = 0.0f}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ValidateNormalization(Normalization{
                            .mode = "dataset", .mean = std::numeric_limits<float>::quiet_NaN()}),
                        ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace pneumo::image

namespace pneumo::image {
namespace {

TEST(TrimUniformBorders, CutsFlatBandsAndKeepsTheImage) {
  cv::Mat inner = Random01(100, 80, 9);
  cv::Mat framed;
  cv::copyMakeBorder(inner, framed, 10, 0, 12, 6, cv::BORDER_CONSTANT, cv::Scalar(1.0));
  cv::Mat trimmed = TrimUniformBorders(framed);
  ASSERT_EQ(trimmed.size(), inner.size());
  EXPECT_EQ(cv::norm(trimmed, inner, cv::NORM_INF), 0.0);
  EXPECT_EQ(TrimUniformBorders(inner).size(), inner.size()) << "textured edges stay";
}

TEST(TrimUniformBorders, NeverCutsMoreThanAQuarterOfASide) {
  cv::Mat flat(100, 100, CV_32FC1, cv::Scalar(0.5));
  cv::Mat trimmed = TrimUniformBorders(flat);
  EXPECT_GE(trimmed.rows, 50);
  EXPECT_GE(trimmed.cols, 50);
}

TEST(Normalization, ClaheEqualisesAndUnknownStepsAreRefused) {
  cv::Mat dull = Random01(64, 64, 4) * 0.1 + 0.45;  // almost no contrast
  cv::Mat plain = dull.clone(), equalised = dull.clone();
  NormalizeInPlace(plain, {"dataset", 0.0f, 1.0f, "none"});
  NormalizeInPlace(equalised, {"dataset", 0.0f, 1.0f, "clahe"});
  cv::Scalar m0, s0, m1, s1;
  cv::meanStdDev(plain, m0, s0);
  cv::meanStdDev(equalised, m1, s1);
  EXPECT_GT(s1[0], 2 * s0[0]) << "CLAHE stretches a dull image's contrast";
  EXPECT_FALSE(ValidateNormalization({"per_image", 0.0f, 1.0f, "histogram"}));
  EXPECT_FALSE(ValidateNormalization({"per_image", 0.0f, 1.0f, "none", "cut"}));
  EXPECT_TRUE(ValidateNormalization({"per_image", 0.0f, 1.0f, "clahe", "uniform"}));
}

}  // namespace
}  // namespace pneumo::image
