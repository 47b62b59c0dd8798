// Arbitrary bytes as an upload: image::DecodeForInference as PredictionService calls it (format
// sniffing, header dimensions checked before any pixel, reduced-scale JPEG decoding), then
// DecodeImage. Checks, beyond "no crash": every decoded image is CV_32FC1 with finite values in
// [0, 1]; the stored size is within the limits and, for JPEG and PNG, is the size the header
// claims; a reduced JPEG is no larger than that and keeps min_side; the full decode has exactly
// the stored size; a refused header is never decoded; only a DICOM comes with DICOM attributes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

#include "fuzz_check.h"
#include "image/decode.h"
#include "image/image_header.h"

namespace {

// The server's limits, smaller: the checks are the same, and a 100-megapixel bomb that passes
// them would only make each run slow (the fuzzer's -rss_limit_mb catches what is left).
constexpr pneumo::image::DecodeLimits kLimits{
    .max_side = 4096, .max_pixels = 4'000'000, .max_bytes = 8u << 20};
constexpr int kMinSide = 64;  // reduced JPEG decoding stays at or above this

void CheckPixels(const cv::Mat& gray) {
  FUZZ_CHECK(gray.type() == CV_32FC1, "a decoded image is not CV_32FC1");
  FUZZ_CHECK(gray.cols > 0 && gray.rows > 0, "a decoded image is empty");
  FUZZ_CHECK(cv::checkRange(gray, /*quiet=*/true, nullptr, 0.0, 1.0 + 1e-6),
             "a decoded image has values outside [0, 1] or not finite");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pneumo::image;
  const std::span<const std::uint8_t> bytes(data, size);
  auto format = SniffFormat(bytes);
  auto decoded = DecodeForInference(bytes, kMinSide, kLimits);
  if (!format) {
    FUZZ_CHECK(!decoded, "bytes of no known format were decoded");
    return 0;
  }
  if (*format != ImageFormat::kDicom) {
    auto header = ReadHeaderSize(bytes, *format);
    const bool header_ok = header && CheckDimensions(*header, kLimits).has_value();
    if (!header_ok) FUZZ_CHECK(!decoded, "an image whose header is refused was decoded");
    if (decoded) {
      FUZZ_CHECK(decoded->width == header->width && decoded->height == header->height,
                 "the decoded size is not the header's");
    }
  }
  if (!decoded) return 0;
  FUZZ_CHECK(decoded->format == *format, "decoded as another format than sniffed");
  FUZZ_CHECK(!decoded->dicom || decoded->format == ImageFormat::kDicom,
             "a JPEG or PNG came with DICOM attributes");
  FUZZ_CHECK(decoded->width <= kLimits.max_side && decoded->height <= kLimits.max_side &&
                 std::int64_t{decoded->width} * decoded->height <= kLimits.max_pixels,
             "an image beyond the limits was decoded");
  CheckPixels(decoded->gray);
  FUZZ_CHECK(decoded->gray.cols <= decoded->width && decoded->gray.rows <= decoded->height,
             "the reduced image is larger than the stored one");
  if (decoded->gray.cols < decoded->width) {
    FUZZ_CHECK(decoded->format == ImageFormat::kJpeg, "only JPEGs are decoded reduced");
    FUZZ_CHECK(std::min(decoded->gray.cols, decoded->gray.rows) >= kMinSide,
               "a reduced JPEG fell below min_side");
  }
  auto full = DecodeImage(bytes, kLimits);
  FUZZ_CHECK(full.has_value(), "DecodeForInference decoded what DecodeImage refuses");
  CheckPixels(*full);
  FUZZ_CHECK(full->cols == decoded->width && full->rows == decoded->height,
             "the full decode does not have the stored size");
  return 0;
}
