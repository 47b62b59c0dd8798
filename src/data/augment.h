// Random augmentation suited to chest X-rays: small geometric changes (the patient is never
// mirrored: the heart's side matters) and strong intensity changes, because the sites and
// machines that made the test images differ in exposure and contrast.
//
//   std::mt19937 rng(seed);
//   cv::Mat augmented = Augment(gray01, AugmentOptions{}, rng);  // same size, CV_32FC1
//
// Pure function of its inputs and the generator; thread-safe with one generator per thread.
#pragma once

#include <opencv2/core/mat.hpp>

#include <random>

namespace pneumo::data {

struct AugmentOptions {
  double max_rotation_degrees = 10.0;  // uniform in [-max, max]
  double max_shift = 0.08;             // fraction of the side, each axis
  double min_scale = 0.90;             // zoom range
  double max_scale = 1.15;
  double brightness = 0.10;            // additive, uniform in [-b, b]
  double contrast = 0.25;              // multiplicative around the mean, in [1-c, 1+c]
  double gamma = 0.35;                 // exponent exp(uniform[-g, g])
  double blur_probability = 0.25;      // Gaussian blur, sigma in [0.3, 1.2] px: softer films
  double noise_std = 0.02;             // additive Gaussian noise, std uniform in [0, noise_std]
};

cv::Mat Augment(const cv::Mat& gray01, const AugmentOptions& options, std::mt19937& rng);

}  // namespace pneumo::data
