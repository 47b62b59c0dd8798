// The one preprocessing path used by training, evaluation and serving.
//
//   cv::Mat gray = *DecodeImage(bytes);                      // CV_32FC1 [0, 1], any size
//   cv::Mat small = ResizeForModel(gray, /*input_size=*/224);  // squashed, like the training copy
//   NormalizeInPlace(small, card.normalization);               // what the network sees
//
// Thread-safe: pure functions.
#pragma once

#include <opencv2/core/mat.hpp>
#include <string>

#include "core/error.h"

namespace pneumo::image {

// How pixels are scaled before the network. Stored in the model card.
struct Normalization {
  // "dataset": (x - mean) / std with the training set's statistics below.
  // "per_image": each image standardised by its own mean and std, then (x - mean) / std; this
  //   removes global brightness/contrast differences between acquisition sites.
  std::string mode = "per_image";
  float mean = 0.0f;  // of training pixels after the mode's first step
  float std = 1.0f;
  // Applied before the mode: "none", or "clahe" (contrast-limited adaptive histogram
  // equalisation, clip 2, 8x8 tiles, on the input-size image): it maps each site's exposure and
  // contrast curve onto a similar local histogram, one acquisition difference fewer to learn.
  std::string equalization = "none";
  // Applied first, on the decoded image: "none", or "uniform": rows and columns at the edges that
  // hold one flat value (a film edge, collimator band or padding, std below 0.02) are cut away,
  // at most a quarter of each side, so that framing does not change what the network sees.
  std::string borders = "none";
};

// kInvalidArgument unless mode is "per_image" or "dataset", equalization "none" or "clahe",
// borders "none" or "uniform", and std is a positive finite number.
// Whoever loads a model card calls this once, so NormalizeInPlace can trust its argument.
Result<void> ValidateNormalization(const Normalization& normalization);

// The decoded image without its uniform edge bands (see Normalization::borders); a view into
// `gray` (no copy). CV_32FC1 or CV_8UC1.
cv::Mat TrimUniformBorders(const cv::Mat& gray);

// Squashes to input_size x input_size without keeping aspect ratio (the Kermany training copy was
// made that way), with area interpolation when shrinking. Input CV_32FC1 or CV_8UC1; output has
// the input's type and never shares the input's pixels.
// REQUIRES: input_size > 0 and !gray.empty(); otherwise an empty Mat is returned.
cv::Mat ResizeForModel(const cv::Mat& gray, int input_size);

// In place on a CV_32FC1 image with values in [0, 1].
// REQUIRES: ValidateNormalization(normalization) succeeds. An unknown mode falls back to
// "dataset"; a card std below 1e-6 is treated as 1 rather than dividing by ~0.
void NormalizeInPlace(cv::Mat& gray01, const Normalization& normalization);

}  // namespace pneumo::image
