// The stress validation: named, seeded acquisition shifts that stand in for another hospital's
// X-ray machines, film processing and framing, because a validation split carved from the
// training hospital cannot show them.
//
//   for (const StressCondition& c : StressConditions()) {
//     cv::Mat shifted = ApplyStress(c, gray01, /*seed=*/StressSeed(42, image_index));
//     ... ResizeForModel + NormalizeInPlace, predict, score per condition
//   }
//
// Each condition applies to a decoded image of any size (CV_32FC1 in [0, 1]) and returns the same
// type, in [0, 1]. Deterministic: the same image, condition and seed give the same pixels.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <span>
#include <string>
#include <string_view>

namespace pneumo::data {

struct StressCondition {
  std::string_view name;         // short identifier, e.g. "gamma_0.6"
  std::string_view description;  // what a radiographer would recognise
  cv::Mat (*apply)(const cv::Mat& gray01, std::uint64_t seed);
};

// The fixed set, in report order; the first is "clean" (the image unchanged).
std::span<const StressCondition> StressConditions();
// nullptr when no condition has that name.
const StressCondition* FindStressCondition(std::string_view name);

inline cv::Mat ApplyStress(const StressCondition& condition, const cv::Mat& gray01,
                           std::uint64_t seed) {
  return condition.apply(gray01, seed);
}

// The seed of one image's shift: a fixed function of the run's seed and the image's position.
inline std::uint64_t StressSeed(std::uint64_t seed, std::size_t image_index) {
  return seed * 0x9E3779B97F4A7C15ULL + image_index * 0xBF58476D1CE4E5B9ULL + 1;
}

}  // namespace pneumo::data
