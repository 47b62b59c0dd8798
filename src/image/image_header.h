// Reads image dimensions from JPEG and PNG headers without decoding pixels, so that image bombs
// are refused before OpenCV allocates anything.
//
//   auto size = pneumo::image::ReadHeaderSize(bytes, ImageFormat::kJpeg);
//   if (size && size->width * size->height > limit) ...
#pragma once

#include <cstdint>
#include <span>

#include "core/error.h"
#include "image/decode.h"

namespace pneumo::image {

struct ImageSize {
  std::int64_t width = 0;
  std::int64_t height = 0;
};

// kCorruptInput when the header is truncated or has no frame header; kInvalidDimensions for 0.
Result<ImageSize> ReadHeaderSize(std::span<const std::uint8_t> bytes, ImageFormat format);

// kImageTooLarge / kInvalidDimensions when `size` breaks `limits`.
Result<void> CheckDimensions(const ImageSize& size, const DecodeLimits& limits);

// True when a JPEG's first scan is followed by an EOI marker (trailing bytes after it are
// allowed). libjpeg decodes a truncated file with only a warning, filling the missing rows with
// grey, so the decoder uses this to refuse truncated uploads instead of classifying half an image.
bool HasJpegEndOfImage(std::span<const std::uint8_t> bytes);

}  // namespace pneumo::image
