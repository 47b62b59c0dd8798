#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace pneumo::data {
namespace {

// Up to this many draws for a crop that fits; then the whole image (as torchvision does).
constexpr int kCropAttempts = 10;

cv::Rect RandomCrop(const cv::Size& size, const AugmentOptions& options, std::mt19937& rng) {
  auto uniform = [&rng](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  const double area = static_cast<double>(size.area());
  const double log_aspect = std::log(std::max(1.0, options.max_crop_aspect));
  for (int attempt = 0; attempt < kCropAttempts; ++attempt) {
    const double target = area * uniform(std::clamp(options.min_crop_area, 0.01, 1.0), 1.0);
    const double aspect = std::exp(uniform(-log_aspect, log_aspect));
    const int w = static_cast<int>(std::lround(std::sqrt(target * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / aspect)));
    if (w < 1 || h < 1 || w > size.width || h > size.height) continue;
    const int x = std::uniform_int_distribution<int>(0, size.width - w)(rng);
    const int y = std::uniform_int_distribution<int>(0, size.height - h)(rng);
    return {x, y, w, h};
  }
  return {0, 0, size.width, size.height};
}

}  // namespace

cv::Mat Augment(const cv::Mat& gray01, const AugmentOptions& options, std::mt19937& rng,
                int output_side) {
  auto uniform = [&rng](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  const cv::Size out_size = output_side > 0 ? cv::Size(output_side, output_side) : gray01.size();
  cv::Mat framed = gray01;
  if (options.crop_probability > 0 && uniform(0, 1) < options.crop_probability) {
    framed = gray01(RandomCrop(gray01.size(), options, rng));
  }
  if (framed.size() != out_size) {
    cv::Mat resized;
    const bool shrinking = framed.cols > out_size.width || framed.rows > out_size.height;
    cv::resize(framed, resized, out_size, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    framed = resized;
  }

  const double side = static_cast<double>(out_size.width);
  const cv::Point2f center(static_cast<float>(out_size.width) / 2.0f,
                           static_cast<float>(out_size.height) / 2.0f);
  cv::Mat transform = cv::getRotationMatrix2D(
      center, uniform(-options.max_rotation_degrees, options.max_rotation_degrees),
      uniform(options.min_scale, options.max_scale));
  transform.at<double>(0, 2) += uniform(-options.max_shift, options.max_shift) * side;
  transform.at<double>(1, 2) += uniform(-options.max_shift, options.max_shift) * side;
  cv::Mat out;
  cv::warpAffine(framed, out, transform, out_size, cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(0));

  if (options.border_probability > 0 && uniform(0, 1) < options.border_probability) {
    const double r = uniform(0, 1);
    const float value = r < 0.4 ? 0.0f : r < 0.8 ? 1.0f : static_cast<float>(uniform(0, 1));
    const int sides =
        std::uniform_int_distribution<int>(1, 15)(rng);  // a non-empty subset of 4 edges
    const int w = out.cols, h = out.rows;
    auto band = [&](int extent) {
      return std::max(1, static_cast<int>(uniform(0.03, options.max_border) * extent));
    };
    if (sides & 1) out.colRange(0, band(w)).setTo(value);
    if (sides & 2) out.colRange(w - band(w), w).setTo(value);
    if (sides & 4) out.rowRange(0, band(h)).setTo(value);
    if (sides & 8) out.rowRange(h - band(h), h).setTo(value);
  }
  if (uniform(0, 1) < options.blur_probability) {
    const double sigma = uniform(0.3, 1.2);
    cv::GaussianBlur(out, out, cv::Size(0, 0), sigma);
  } else if (options.sharpen_probability > 0 && uniform(0, 1) < options.sharpen_probability) {
    cv::Mat soft;
    cv::GaussianBlur(out, soft, cv::Size(0, 0), 1.0);
    const double amount = uniform(0.3, 1.5);
    cv::addWeighted(out, 1.0 + amount, soft, -amount, 0.0, out);
  }
  // Gamma first (on [0,1]), then contrast around the mean, then brightness.
  const double gamma = std::exp(uniform(-options.gamma, options.gamma));
  cv::min(cv::max(out, 0.0), 1.0, out);
  cv::pow(out, gamma, out);
  const double mean = cv::mean(out)[0];
  const double contrast = uniform(1.0 - options.contrast, 1.0 + options.contrast);
  const double brightness = uniform(-options.brightness, options.brightness);
  out.convertTo(out, CV_32F, contrast, (1.0 - contrast) * mean + brightness);
  if (options.noise_std > 0) {
    cv::Mat noise(out.size(), CV_32F);
    cv::theRNG().state = rng();  // cv::randn draws from OpenCV's generator; seed it from ours
    cv::randn(noise, 0.0, uniform(0.0, options.noise_std));
    out += noise;
  }
  cv::min(cv::max(out, 0.0), 1.0, out);
  return out;
}

}  // namespace pneumo::data
