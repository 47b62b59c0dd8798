#include "image/preprocess.h"

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace pneumo::image {
namespace {

// Below this a standard deviation is noise around zero (a blank or constant image); dividing by
// it would blow rounding error up into the network's whole input range.
constexpr double kMinStd = 1e-6;

constexpr double kClaheClipLimit = 2.0;
// An edge row or column this flat (std of [0, 1] values) holds no anatomy.
constexpr float kFlatBorderStd = 0.02f;
constexpr int kClaheTiles = 8;

double SafeStd(double std) { return std < kMinStd ? 1.0 : std; }

}  // namespace

Result<void> ValidateNormalization(const Normalization& normalization) {
  if (normalization.mode != "per_image" && normalization.mode != "dataset") {
    return Fail(ErrorCode::kInvalidArgument, "normalization mode \"" + normalization.mode +
                                                 "\" is unknown; expected per_image or dataset");
  }
  if (normalization.equalization != "none" && normalization.equalization != "clahe") {
    return Fail(ErrorCode::kInvalidArgument, "equalization \"" + normalization.equalization +
                                                 "\" is unknown; expected none or clahe");
  }
  if (normalization.borders != "none" && normalization.borders != "uniform") {
    return Fail(ErrorCode::kInvalidArgument,
                "borders \"" + normalization.borders + "\" is unknown; expected none or uniform");
  }
  if (!std::isfinite(normalization.mean) || !std::isfinite(normalization.std) ||
      normalization.std < kMinStd) {
    return Fail(ErrorCode::kInvalidArgument,
                "normalization mean must be finite and std a positive finite number");
  }
  return {};
}

cv::Mat TrimUniformBorders(const cv::Mat& gray) {
  if (gray.empty() || gray.channels() != 1) return gray;
  cv::Mat x;
  gray.convertTo(x, CV_32F, gray.depth() == CV_8U ? 1.0 / 255.0 : 1.0);
  // Per-row and per-column standard deviation from E[x^2] - E[x]^2.
  cv::Mat sq = x.mul(x), row_mean, row_sq, col_mean, col_sq;
  cv::reduce(x, row_mean, 1, cv::REDUCE_AVG);
  cv::reduce(sq, row_sq, 1, cv::REDUCE_AVG);
  cv::reduce(x, col_mean, 0, cv::REDUCE_AVG);
  cv::reduce(sq, col_sq, 0, cv::REDUCE_AVG);
  auto flat = [](const cv::Mat& mean, const cv::Mat& mean_sq, int i) {
    const float m = mean.at<float>(i), v = mean_sq.at<float>(i) - m * m;
    return v < kFlatBorderStd * kFlatBorderStd;
  };
  const int max_rows = gray.rows / 4, max_cols = gray.cols / 4;
  int top = 0, bottom = 0, left = 0, right = 0;
  while (top < max_rows && flat(row_mean, row_sq, top)) ++top;
  while (bottom < max_rows && flat(row_mean, row_sq, gray.rows - 1 - bottom)) ++bottom;
  while (left < max_cols && flat(col_mean, col_sq, left)) ++left;
  while (right < max_cols && flat(col_mean, col_sq, gray.cols - 1 - right)) ++right;
  return gray(cv::Rect(left, top, gray.cols - left - right, gray.rows - top - bottom));
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

void EqualizeInPlace(cv::Mat& gray01) {
  // CLAHE works on 8- or 16-bit images; 16 bits keep the float input's precision.
  cv::Mat levels;
  gray01.convertTo(levels, CV_16U, 65535.0);
  // One CLAHE object per thread: creating it costs more than applying it to a 192 px image.
  thread_local cv::Ptr<cv::CLAHE> clahe =
      cv::createCLAHE(kClaheClipLimit, cv::Size(kClaheTiles, kClaheTiles));
  clahe->apply(levels, levels);
  levels.convertTo(gray01, CV_32F, 1.0 / 65535.0);
}

void NormalizeInPlace(cv::Mat& gray01, const Normalization& normalization) {
  if (normalization.equalization == "clahe") EqualizeInPlace(gray01);
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
