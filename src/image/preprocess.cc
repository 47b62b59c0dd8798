#include "image/preprocess.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

namespace pneumo::image {
namespace {

// Below this a standard deviation is noise around zero (a blank or constant image); dividing by
// it would blow rounding error up into the network's whole input range.
constexpr double kMinStd = 1e-6;

double SafeStd(double std) { return std < kMinStd ? 1.0 : std; }

}  // namespace

Result<void> ValidateNormalization(const Normalization& normalization) {
  if (normalization.mode != "per_image" && normalization.mode != "dataset") {
    return Fail(ErrorCode::kInvalidArgument, "normalization mode \"" + normalization.mode +
                                                 "\" is unknown; expected per_image or dataset");
  }
  if (!std::isfinite(normalization.mean) || !std::isfinite(normalization.std) ||
      normalization.std < kMinStd) {
    return Fail(ErrorCode::kInvalidArgument,
                "normalization mean must be finite and std a positive finite number");
  }
  return {};
}

cv::Mat ResizeForModel(const cv::Mat& gray, int input_size) {
  if (gray.empty() || input_size <= 0) return cv::Mat();
  const cv::Size target(input_size, input_size);
  // Area averaging is the anti-aliased choice when pixels are dropped (on a non-square image, as
  // soon as either side shrinks: aliasing in one direction hurts more than a slightly soft
  // other). For enlarging, INTER_AREA degenerates to nearest-neighbour, so bilinear instead.
  const bool shrinking = gray.cols > input_size || gray.rows > input_size;
  cv::Mat resized;
  cv::resize(gray, resized, target, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return resized;
}

void NormalizeInPlace(cv::Mat& gray01, const Normalization& normalization) {
  const double card_std = SafeStd(normalization.std);
  double alpha = 1.0 / card_std;
  double beta = -normalization.mean / card_std;
  if (normalization.mode == "per_image") {
    cv::Scalar mean, std;
    cv::meanStdDev(gray01, mean, std);
    const double own_std = SafeStd(std[0]);
    // ((x - m) / s - mean) / std folded into one pass: x * alpha + beta.
    alpha = 1.0 / (own_std * card_std);
    beta = -(mean[0] / own_std + normalization.mean) / card_std;
  }
  gray01.convertTo(gray01, CV_32F, alpha, beta);
}

}  // namespace pneumo::image
