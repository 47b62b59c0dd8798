#include "serving/review.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/core.hpp>

namespace pneumo::serving {
namespace {
std::string Format(const char* pattern, double a, double b = 0, double c = 0) {
  char text[200];
  std::snprintf(text, sizeof text, pattern, a, b, c);
  return text;
}
}  // namespace

std::vector<std::string> InputReviewReasons(const image::DecodedImage& decoded,
                                            const ReviewPolicy& policy) {
  std::vector<std::string> reasons;
  if (decoded.colour) {
    reasons.emplace_back("image is in colour; chest X-rays are grayscale, so this may not be one");
  }
  const int shorter = std::min(decoded.width, decoded.height);
  const int longer = std::max(decoded.width, decoded.height);
  if (shorter > 0 && shorter < policy.min_side) {
    reasons.push_back(
        Format("image is very small (%.0fx%.0f px); details the model needs may be lost",
               decoded.width, decoded.height));
  }
  if (shorter > 0 && static_cast<double>(longer) / shorter > policy.max_aspect) {
    reasons.push_back(Format("aspect ratio %.1f:1 is unusual for a chest X-ray",
                             static_cast<double>(longer) / shorter));
  }
  if (!decoded.gray.empty()) {
    cv::Scalar mean, stddev;
    cv::meanStdDev(decoded.gray, mean, stddev);
    if (stddev[0] < policy.min_contrast) {
      reasons.push_back(
          Format("image has almost no contrast (standard deviation %.3f)", stddev[0]));
    }
  }
  return reasons;
}

std::vector<std::string> UncertaintyReviewReasons(double probability, double threshold,
                                                  const ReviewPolicy& policy) {
  if (std::abs(probability - threshold) >= policy.band) return {};
  return {
      Format("probability %.2f is within %.2f of the threshold %.2f, where the model is least sure",
             probability, policy.band, threshold)};
}

}  // namespace pneumo::serving
