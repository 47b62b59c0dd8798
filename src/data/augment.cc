#include "data/augment.h"

#include <opencv2/imgproc.hpp>

#include <cmath>

namespace pneumo::data {

cv::Mat Augment(const cv::Mat& gray01, const AugmentOptions& options, std::mt19937& rng) {
  auto uniform = [&rng](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  const double side = static_cast<double>(gray01.cols);
  const cv::Point2f center(static_cast<float>(gray01.cols) / 2.0f,
                           static_cast<float>(gray01.rows) / 2.0f);
  cv::Mat transform = cv::getRotationMatrix2D(
      center, uniform(-options.max_rotation_degrees, options.max_rotation_degrees),
      uniform(options.min_scale, options.max_scale));
  transform.at<double>(0, 2) += uniform(-options.max_shift, options.max_shift) * side;
  transform.at<double>(1, 2) += uniform(-options.max_shift, options.max_shift) * side;
  cv::Mat out;
  cv::warpAffine(gray01, out, transform, gray01.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(0));

  if (uniform(0, 1) < options.blur_probability) {
    const double sigma = uniform(0.3, 1.2);
    cv::GaussianBlur(out, out, cv::Size(0, 0), sigma);
  }
  // Gamma first (on [0,1]), then contrast around the mean, then brightness.
  const double gamma = std::exp(uniform(-options.gamma, options.gamma));
  cv::max(out, 0.0, out);
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
