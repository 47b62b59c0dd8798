#include "data/augment.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

namespace pneumo::data {
namespace {

cv::Mat Gradient() {
  cv::Mat img(64, 64, CV_32FC1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) img.at<float>(y, x) = static_cast<float>(x + y) / 126.0f;
  return img;
}

TEST(Augment, IsDeterministicForAGeneratorState) {
  std::mt19937 a(3), b(3);
  cv::Mat x = Augment(Gradient(), {}, a), y = Augment(Gradient(), {}, b);
  EXPECT_EQ(cv::norm(x, y, cv::NORM_INF), 0.0);
}

TEST(Augment, KeepsSizeTypeAndRangeButChangesPixels) {
  std::mt19937 rng(1);
  for (int i = 0; i < 20; ++i) {
    cv::Mat out = Augment(Gradient(), {}, rng);
    ASSERT_EQ(out.size(), cv::Size(64, 64));
    ASSERT_EQ(out.type(), CV_32FC1);
    double lo, hi;
    cv::minMaxLoc(out, &lo, &hi);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);
    EXPECT_GT(cv::norm(out, Gradient(), cv::NORM_L1), 0.0);
  }
}

TEST(Augment, NeverMirrorsTheImage) {
  // With geometry and intensity switched off except a tiny rotation, the left-bright image stays
  // left-bright: a mirrored chest would put the heart on the wrong side.
  cv::Mat left(64, 64, CV_32FC1, cv::Scalar(0));
  left.colRange(0, 32).setTo(1.0);
  AugmentOptions options{.max_rotation_degrees = 5,
                         .max_shift = 0.02,
                         .min_scale = 1,
                         .max_scale = 1,
                         .brightness = 0,
                         .contrast = 0,
                         .gamma = 0,
                         .blur_probability = 0,
                         .noise_std = 0};
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {
    cv::Mat out = Augment(left, options, rng);
    EXPECT_GT(cv::mean(out.colRange(0, 32))[0], cv::mean(out.colRange(32, 64))[0] + 0.5);
  }
}

}  // namespace
}  // namespace pneumo::data

namespace pneumo::data {
namespace {

TEST(Augment, CropsAndResizesToTheOutputSide) {
  AugmentOptions options;
  options.crop_probability = 1.0;
  options.border_probability = 1.0;
  std::mt19937 a(11), b(11);
  cv::Mat x = Augment(Gradient(), options, a, /*output_side=*/40),
          y = Augment(Gradient(), options, b, 40);
  ASSERT_EQ(x.size(), cv::Size(40, 40));
  EXPECT_EQ(cv::norm(x, y, cv::NORM_INF), 0.0) << "deterministic for a generator state";
}

TEST(Augment, BordersAreFlatBands) {
  // Geometry and intensity off: only the border step acts.
  AugmentOptions options{.max_rotation_degrees = 0,
                         .max_shift = 0,
                         .min_scale = 1,
                         .max_scale = 1,
                         .brightness = 0,
                         .contrast = 0,
                         .gamma = 0,
                         .blur_probability = 0,
                         .noise_std = 0};
  options.border_probability = 1.0;
  std::mt19937 rng(2);
  int flat_edges = 0;
  for (int i = 0; i < 10; ++i) {
    cv::Mat out = Augment(Gradient(), options, rng);
    for (const cv::Mat& edge : {out.col(0), out.col(63), out.row(0), out.row(63)}) {
      cv::Scalar mean, std;
      cv::meanStdDev(edge, mean, std);
      flat_edges += std[0] < 1e-6;
    }
  }
  EXPECT_GE(flat_edges, 10) << "every image gets at least one flat edge band";
}

}  // namespace
}  // namespace pneumo::data
