// Turns the bytes of a JPEG, PNG or DICOM file into one grayscale float image.
//
//   pneumo::Result<cv::Mat> gray = pneumo::image::DecodeImage(bytes);
//   if (!gray) { report(gray.error()); }
//   // gray->type() == CV_32FC1, values in [0, 1], 0 = black as a radiologist would see it.
//
// Thread-safe: free functions with no shared state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "image/dicom_attributes.h"

namespace pneumo::image {

enum class ImageFormat { kJpeg, kPng, kDicom };

std::string_view FormatName(ImageFormat format);  // "jpeg", "png", "dicom"

// Safety limits checked against the header before any pixel is decoded (image bombs).
struct DecodeLimits {
  int max_side = 16384;                   // pixels, either dimension
  std::int64_t max_pixels = 100'000'000;  // width * height
  std::size_t max_bytes = 256u << 20;     // input size, bytes
};

// Recognises the format from magic bytes (JPEG SOI, PNG signature, DICM preamble), not from
// a file name or content type. kUnsupportedFormat when none matches.
Result<ImageFormat> SniffFormat(std::span<const std::uint8_t> bytes);

// Decodes to CV_32FC1 in [0, 1]. 16-bit sources keep their precision; RGB(A) becomes luminance
// (alpha ignored). DICOM is rendered as DecodeDicom (dicom.h) describes.
Result<cv::Mat> DecodeImage(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

// What a server learns from an upload besides the pixels.
struct DecodedImage {
  cv::Mat gray;  // CV_32FC1 [0, 1]; may be smaller than the stored image (see below)
  ImageFormat format = ImageFormat::kJpeg;
  int width = 0;  // of the stored image, before any reduction
  int height = 0;
  bool colour = false;  // colour channels that really differ: a photograph, not a radiograph
  // A DICOM input's header, read from the same parse as its pixels (ReadDicomAttributes would
  // parse the bytes again). nullopt for JPEG and PNG, and for a DICOM whose header DCMTK threw
  // on after the pixels were rendered.
  std::optional<DicomAttributes> dicom;
};

// DecodeImage for serving. A JPEG larger than needed is decoded at 1/2, 1/4 or 1/8 scale by
// libjpeg's DCT scaling (an 8x8 block average, as area resizing would do, at a fraction of the
// cost) while both sides stay >= min_side; 0 never reduces. Other formats decode in full.
Result<DecodedImage> DecodeForInference(std::span<const std::uint8_t> bytes, int min_side,
                                        const DecodeLimits& limits = {});

// Reads the file (kNotFound / kIoError) then DecodeImage.
Result<cv::Mat> DecodeImageFile(const std::filesystem::path& path, const DecodeLimits& limits = {});

}  // namespace pneumo::image
