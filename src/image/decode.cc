#include "image/decode.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <system_error>

#include "core/file_bytes.h"
#include "image/dicom.h"
#include "image/image_header.h"

namespace pneumo::image {
namespace {

bool StartsWith(std::span<const std::uint8_t> bytes, std::size_t offset,
                std::span<const std::uint8_t> magic) {
  return bytes.size() >= offset + magic.size() &&
         std::equal(magic.begin(), magic.end(), bytes.begin() + offset);
}

// Any decoded Mat (8/16-bit, 1/3/4 channels, BGR order as OpenCV returns it) to CV_32FC1 [0, 1].
// Scaling to float before the colour conversion keeps 16-bit precision (cvtColor on CV_16U would
// round the weighted sum back to integers).
Result<cv::Mat> ToGray01(const cv::Mat& decoded) {
  double scale = 0.0;
  switch (decoded.depth()) {
    case CV_8U:
      scale = 1.0 / 255.0;
      break;
    case CV_16U:
      scale = 1.0 / 65535.0;
      break;
    default:
      return Fail(ErrorCode::kUnsupportedFormat,
                  "image sample type is not 8- or 16-bit unsigned; only those are supported");
  }
  cv::Mat scaled;
  decoded.convertTo(scaled, CV_MAKETYPE(CV_32F, decoded.channels()), scale);
  switch (scaled.channels()) {
    case 1:
      return scaled;
    case 3: {
      cv::Mat gray;
      cv::cvtColor(scaled, gray, cv::COLOR_BGR2GRAY);
      return gray;
    }
    case 4: {  // alpha carries no anatomy; a transparent pixel keeps its colour's luminance
      cv::Mat gray;
      cv::cvtColor(scaled, gray, cv::COLOR_BGRA2GRAY);
      return gray;
    }
    default:
      return Fail(ErrorCode::kUnsupportedFormat, "image has " + std::to_string(scaled.channels()) +
                                                     " channels; expected 1, 3 or 4");
  }
}

// Mean absolute difference between colour channels on a sparse grid: 0 for a gray image stored
// as RGB, large for a photograph. 8-bit BGR(A) only.
bool LooksColourful(const cv::Mat& bgr) {
  if (bgr.channels() < 3 || bgr.depth() != CV_8U || bgr.empty()) return false;
  const int step = std::max(1, std::min(bgr.rows, bgr.cols) / 64);
  double total = 0;
  int samples = 0;
  for (int y = 0; y < bgr.rows; y += step) {
    const std::uint8_t* row = bgr.ptr<std::uint8_t>(y);
    for (int x = 0; x < bgr.cols; x += step) {
      const std::uint8_t* p = row + static_cast<std::ptrdiff_t>(x) * bgr.channels();
      total += std::abs(p[0] - p[1]) + std::abs(p[1] - p[2]) + std::abs(p[0] - p[2]);
      ++samples;
    }
  }
  return samples > 0 &&
         total / (3.0 * samples) > 8.0;  // ~3% of full scale, above JPEG chroma noise
}

// The header's dimensions, checked against the limits before any pixel is decoded (image bombs).
Result<ImageSize> CheckedHeaderSize(std::span<const std::uint8_t> bytes, ImageFormat format,
                                    const DecodeLimits& limits) {
  auto size = ReadHeaderSize(bytes, format);
  if (!size) return std::unexpected(size.error());
  if (auto ok = CheckDimensions(*size, limits); !ok) return std::unexpected(ok.error());
  return size;
}

// REQUIRES: CheckedHeaderSize succeeded. `reduced_flag` is 0 for a full decode, else one of
// IMREAD_REDUCED_COLOR_{2,4,8}.
Result<cv::Mat> DecodeRasterMat(std::span<const std::uint8_t> bytes, ImageFormat format,
                                int reduced_flag) {
  if (format == ImageFormat::kJpeg && !HasJpegEndOfImage(bytes)) {
    return Fail(ErrorCode::kCorruptInput,
                "JPEG is truncated: it has no end-of-image marker after its image data");
  }

  // cv::Mat sizes are int; only a caller raising max_bytes past 2 GiB could get here.
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Fail(ErrorCode::kImageTooLarge, "the file is over 2 GiB, more than OpenCV can decode");
  }
  cv::Mat decoded;
  try {
    // imdecode takes a Mat header over our bytes; it does not write to them.
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<std::uint8_t*>(bytes.data()));
    decoded = cv::imdecode(buffer,
                           reduced_flag ? reduced_flag : cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    return Fail(ErrorCode::kCorruptInput,
                std::string(FormatName(format)) + " could not be decoded: " + e.what());
  }
  if (decoded.empty()) {
    return Fail(ErrorCode::kCorruptInput, std::string(FormatName(format)) +
                                              " could not be decoded; it is truncated or damaged");
  }
  return decoded;
}

}  // namespace

std::string_view FormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kDicom:
      return "dicom";
  }
  return "unknown";
}

Result<ImageFormat> SniffFormat(std::span<const std::uint8_t> bytes) {
  static constexpr std::array<std::uint8_t, 3> kJpeg = {0xFF, 0xD8, 0xFF};
  static constexpr std::array<std::uint8_t, 8> kPng = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  static constexpr std::array<std::uint8_t, 4> kDicm = {'D', 'I', 'C', 'M'};
  if (bytes.empty()) return Fail(ErrorCode::kEmptyInput, "the image is empty (0 bytes)");
  if (StartsWith(bytes, 0, kJpeg)) return ImageFormat::kJpeg;
  if (StartsWith(bytes, 0, kPng)) return ImageFormat::kPng;
  // Part 10 files: a 128-byte preamble (content unspecified) then "DICM".
  if (StartsWith(bytes, 128, kDicm)) return ImageFormat::kDicom;
  return Fail(ErrorCode::kUnsupportedFormat,
              "not a JPEG, PNG or DICOM (Part 10) file; those are the formats accepted");
}

Result<cv::Mat> DecodeImage(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  auto decoded = DecodeForInference(bytes, /*min_side=*/0, limits);
  if (!decoded) return std::unexpected(decoded.error());
  return std::move(decoded->gray);
}

Result<DecodedImage> DecodeForInference(std::span<const std::uint8_t> bytes, int min_side,
                                        const DecodeLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return Fail(ErrorCode::kImageTooLarge, "the file is " + std::to_string(bytes.size()) +
                                               " bytes; the limit is " +
                                               std::to_string(limits.max_bytes) + " bytes");
  }
  auto format = SniffFormat(bytes);
  if (!format) return std::unexpected(format.error());
  DecodedImage out;
  out.format = *format;
  if (*format == ImageFormat::kDicom) {
    auto decoded = DecodeDicomWithAttributes(bytes, limits);
    if (!decoded) return std::unexpected(decoded.error());
    out.gray = std::move(decoded->gray);
    out.dicom = std::move(decoded->attributes);
    out.width = out.gray.cols;
    out.height = out.gray.rows;
    return out;
  }
  auto size = CheckedHeaderSize(bytes, *format, limits);
  if (!size) return std::unexpected(size.error());
  out.width = static_cast<int>(size->width);  // bounded by the limits just checked
  out.height = static_cast<int>(size->height);
  int reduced_flag = 0;
  if (*format == ImageFormat::kJpeg && min_side > 0) {
    const std::int64_t shorter = std::min(size->width, size->height);
    for (auto [factor, flag] : {std::pair{8, cv::IMREAD_REDUCED_COLOR_8},
                                {4, cv::IMREAD_REDUCED_COLOR_4},
                                {2, cv::IMREAD_REDUCED_COLOR_2}}) {
      if (shorter / factor >= min_side) {
        reduced_flag = flag;
        break;
      }
    }
  }
  auto decoded = DecodeRasterMat(bytes, *format, reduced_flag);
  if (!decoded) return std::unexpected(decoded.error());
  out.colour = LooksColourful(*decoded);
  auto gray = ToGray01(*decoded);
  if (!gray) return std::unexpected(gray.error());
  out.gray = std::move(*gray);
  return out;
}

Result<cv::Mat> DecodeImageFile(const std::filesystem::path& path, const DecodeLimits& limits) {
  auto bytes = ReadFileBytes(path, limits.max_bytes);
  if (!bytes) return std::unexpected(bytes.error());
  return DecodeImage(*bytes, limits);
}

}  // namespace pneumo::image
