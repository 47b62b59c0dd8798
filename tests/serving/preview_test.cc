#include "serving/preview.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace pneumo::serving {
namespace {

cv::Mat Ramp(int rows, int cols) {
  cv::Mat m(rows, cols, CV_32FC1);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) m.at<float>(y, x) = static_cast<float>(x) / (cols - 1);
  return m;
}

TEST(Preview, ShrinksToTheLongestSideKeepingTheAspectRatio) {
  cv::Mat preview = MakePreview(Ramp(1000, 2000), 384);
  EXPECT_EQ(preview.type(), CV_8UC1);
  EXPECT_EQ(preview.size(), cv::Size(384, 192));
  EXPECT_EQ(preview.at<std::uint8_t>(0, 0), 0);
  EXPECT_GE(preview.at<std::uint8_t>(0, 383), 253);
}

TEST(Preview, NeverEnlarges) {
  EXPECT_EQ(MakePreview(Ramp(100, 80), 384).size(), cv::Size(80, 100));
}

TEST(Preview, PngRoundTripsExactly) {
  cv::Mat preview = MakePreview(Ramp(50, 70), 384);
  auto png = EncodePng(preview);
  ASSERT_TRUE(png);
  ASSERT_GT(png->size(), 8u);
  EXPECT_EQ((*png)[1], 'P');
  auto back = DecodeGray(*png);
  ASSERT_TRUE(back);
  EXPECT_EQ(cv::norm(*back, preview, cv::NORM_INF), 0.0);
}

TEST(Preview, RefusesBytesThatAreNotAPng) {
  const std::vector<std::uint8_t> junk = {1, 2, 3, 4, 5};
  EXPECT_EQ(DecodeGray(junk).error().code, ErrorCode::kCorruptInput);
}

TEST(Heatmap, ColoursOnlyWhereTheMapIsHigh) {
  cv::Mat preview(120, 100, CV_8UC1, cv::Scalar(128));
  cv::Mat cam = cv::Mat::zeros(6, 6, CV_32FC1);
  cam.at<float>(0, 5) = 1.0f;  // top right
  cv::Mat overlay = OverlayHeatmap(preview, cam);
  ASSERT_EQ(overlay.type(), CV_8UC3);
  ASSERT_EQ(overlay.size(), preview.size());
  const cv::Vec3b far =
      overlay.at<cv::Vec3b>(119, 0);  // bottom left: map is 0, radiograph untouched
  EXPECT_EQ(far, cv::Vec3b(128, 128, 128));
  const cv::Vec3b hot = overlay.at<cv::Vec3b>(2, 97);
  EXPECT_GT(hot[2], hot[0] + 40) << "jet's high end is red (BGR order)";
}

}  // namespace
}  // namespace pneumo::serving
