// The images kept and shown with a prediction: a small grayscale preview, and the Grad-CAM
// heatmap drawn over it.
//
//   cv::Mat preview = MakePreview(decoded_gray01, 384);         // CV_8UC1, longest side <= 384
//   Result<std::vector<std::uint8_t>> jpeg = EncodeJpeg(preview);            // kept in the store
//   Result<std::vector<std::uint8_t>> heat = EncodePng(OverlayHeatmap(preview, cam));
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <span>
#include <vector>

#include "core/error.h"

namespace pneumo::serving {

// CV_32FC1 [0, 1] (any size) -> CV_8UC1 whose longest side is at most max_side (never enlarged),
// keeping the aspect ratio.
cv::Mat MakePreview(const cv::Mat& gray01, int max_side);

// JPEG bytes of an 8-bit image: the stored preview. A PNG of the same 384 px preview took 2-3 ms
// to encode even at zlib level 1 (13% of the server's CPU under load); JPEG q90 takes 0.25 ms and
// is a third of the size, at a quality that does not show at preview scale.
Result<std::vector<std::uint8_t>> EncodeJpeg(const cv::Mat& image, int quality = 90);

// PNG bytes of an 8-bit 1- or 3-channel image (heatmaps); zlib level 1 (previews are written on
// every prediction: level 3 cost 8% of the server's CPU for files ~10% smaller). kInternal if
// OpenCV fails.
Result<std::vector<std::uint8_t>> EncodePng(const cv::Mat& image);

// A stored preview (JPEG, or PNG from older records) -> CV_8UC1. kCorruptInput when the bytes do
// not decode.
Result<cv::Mat> DecodeGray(std::span<const std::uint8_t> bytes);

// Colours `preview` (CV_8UC1) where `cam` (CV_32FC1 in [0, 1], any size; stretched over the whole
// image as the model's input was) is high: a jet colour map blended in proportion to the map, so
// weak evidence leaves the radiograph visible. Returns CV_8UC3 (BGR) the preview's size.
cv::Mat OverlayHeatmap(const cv::Mat& preview, const cv::Mat& cam);

}  // namespace pneumo::serving
