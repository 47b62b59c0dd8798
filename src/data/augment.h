// Random augmentation suited to chest X-rays: random resized crops and small geometric changes
// (the patient is never mirrored: the heart's side matters), and strong intensity changes,
// because the sites and machines that made the test images differ in framing, exposure and
// contrast.
//
//   std::mt19937 rng(seed);
//   cv::Mat augmented = Augment(gray01, AugmentOptions{}, rng, /*output_side=*/192);
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
  double brightness = 0.10;        // additive, uniform in [-b, b]
  double contrast = 0.25;          // multiplicative around the mean, in [1-c, 1+c]
  double gamma = 0.35;             // exponent exp(uniform[-g, g])
  double blur_probability = 0.25;  // Gaussian blur, sigma in [0.3, 1.2] px: softer films
  double noise_std = 0.02;         // additive Gaussian noise, std uniform in [0, noise_std]
  // Random resized crop (Szegedy et al. 2015) before the affine step: a region of
  // [min_crop_area, 1] of the image with aspect ratio in [1/max_crop_aspect, max_crop_aspect],
  // stretched to the output side. Framing differs between sites more than anything else.
  double crop_probability = 0.0;  // 0 keeps the whole image (the 1.0.0 recipe)
  double min_crop_area = 0.35;
  double max_crop_aspect = 4.0 / 3.0;
  double sharpen_probability = 0.0;  // unsharp mask, amount in [0.3, 1.5]: harder kernels
  // Flat bands (black, white or a gray) up to max_border of the side on one to four edges: film
  // edges, collimators and padding that other sites leave in the image.
  double border_probability = 0.0;
  double max_border = 0.15;
};

// `output_side` 0 keeps the input's size; otherwise the result is output_side square. The input
// is CV_32FC1 in [0, 1] and the output is too.
cv::Mat Augment(const cv::Mat& gray01, const AugmentOptions& options, std::mt19937& rng,
                int output_side = 0);

}  // namespace pneumo::data
