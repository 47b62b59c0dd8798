#include "serving/preview.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace pneumo::serving {

cv::Mat MakePreview(const cv::Mat& gray01, int max_side) {
  const int longer = std::max(gray01.cols, gray01.rows);
  cv::Mat resized = gray01;
  if (longer > max_side) {
    const double scale = static_cast<double>(max_side) / longer;
    const cv::Size size(std::max(1, static_cast<int>(std::lround(gray01.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(gray01.rows * scale))));
    cv::resize(gray01, resized, size, 0, 0, cv::INTER_AREA);
  }
  cv::Mat preview;
  resized.convertTo(preview, CV_8U, 255.0);  // saturating
  return preview;
}

Result<std::vector<std::uint8_t>> EncodePng(const cv::Mat& image) {
  std::vector<std::uint8_t> png;
  try {
    if (!cv::imencode(".png", image, png, {cv::IMWRITE_PNG_COMPRESSION, 1})) {
      return Fail(ErrorCode::kInternal, "PNG encoding failed");
    }
  } catch (const cv::Exception& e) {
    return Fail(ErrorCode::kInternal, std::string("PNG encoding failed: ") + e.what());
  }
  return png;
}

Result<std::vector<std::uint8_t>> EncodeJpeg(const cv::Mat& image, int quality) {
  std::vector<std::uint8_t> jpeg;
  try {
    if (!cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality})) {
      return Fail(ErrorCode::kInternal, "JPEG encoding failed");
    }
  } catch (const cv::Exception& e) {
    return Fail(ErrorCode::kInternal, std::string("JPEG encoding failed: ") + e.what());
  }
  return jpeg;
}

Result<cv::Mat> DecodeGray(std::span<const std::uint8_t> bytes) {
  cv::Mat image;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<std::uint8_t*>(bytes.data()));
    image = cv::imdecode(buffer, cv::IMREAD_GRAYSCALE);
  } catch (const cv::Exception&) {
    image.release();
  }
  if (image.empty())
    return Fail(ErrorCode::kCorruptInput, "stored preview is not a readable image");
  return image;
}

cv::Mat OverlayHeatmap(const cv::Mat& preview, const cv::Mat& cam) {
  cv::Mat weight;
  cv::resize(cam, weight, preview.size(), 0, 0, cv::INTER_CUBIC);
  cv::min(cv::max(weight, 0.0), 1.0, weight);
  cv::Mat cam8;
  weight.convertTo(cam8, CV_8U, 255.0);
  cv::Mat colours;
  cv::applyColorMap(cam8, colours, cv::COLORMAP_JET);
  cv::Mat base;
  cv::cvtColor(preview, base, cv::COLOR_GRAY2BGR);
  cv::Mat out(preview.size(), CV_8UC3);
  for (int y = 0; y < out.rows; ++y) {
    const float* w = weight.ptr<float>(y);
    const cv::Vec3b* b = base.ptr<cv::Vec3b>(y);
    const cv::Vec3b* c = colours.ptr<cv::Vec3b>(y);
    cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < out.cols; ++x) {
      const float alpha = 0.6f * w[x];  // at most 60% colour: the anatomy stays readable
      for (int k = 0; k < 3; ++k)
        o[x][k] = cv::saturate_cast<std::uint8_t>((1 - alpha) * b[x][k] + alpha * c[x][k]);
    }
  }
  return out;
}

}  // namespace pneumo::serving
