#include "image/image_header.h"

#include <string>

namespace pneumo::image {
namespace {

// Every read below goes through this cursor, so a hostile header can at worst run us to the end
// of the span and get kCorruptInput; nothing indexes the span directly.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool Has(std::size_t n) const { return n <= bytes_.size() - pos_; }
  std::size_t pos() const { return pos_; }

  bool Skip(std::size_t n) {
    if (!Has(n)) return false;
    pos_ += n;
    return true;
  }
  bool U8(std::uint8_t& out) {
    if (!Has(1)) return false;
    out = bytes_[pos_++];
    return true;
  }
  // JPEG and PNG are both big-endian.
  bool U16(std::uint32_t& out) {
    if (!Has(2)) return false;
    out = (std::uint32_t{bytes_[pos_]} << 8) | bytes_[pos_ + 1];
    pos_ += 2;
    return true;
  }
  bool U32(std::uint32_t& out) {
    if (!Has(4)) return false;
    out = (std::uint32_t{bytes_[pos_]} << 24) | (std::uint32_t{bytes_[pos_ + 1]} << 16) |
          (std::uint32_t{bytes_[pos_ + 2]} << 8) | bytes_[pos_ + 3];
    pos_ += 4;
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

Result<ImageSize> Truncated(std::string_view what) {
  return Fail(ErrorCode::kCorruptInput, std::string(what) + " header is truncated or damaged");
}

Result<ImageSize> Sized(std::int64_t width, std::int64_t height, std::string_view what) {
  if (width <= 0 || height <= 0) {
    return Fail(ErrorCode::kInvalidDimensions, std::string(what) + " header declares a " +
                                                   std::to_string(width) + "x" +
                                                   std::to_string(height) + " image");
  }
  return ImageSize{width, height};
}

// SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC) share the range
// but are not frame headers.
bool IsStartOfFrame(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Markers that stand alone, without a length field: TEM and RST0..RST7.
bool IsStandalone(std::uint8_t marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7);
}

// A marker segment: the marker byte and where its payload (after the length field) lies.
struct JpegSegment {
  std::uint8_t marker = 0;
  std::size_t payload = 0;  // offset into the span
  std::size_t length = 0;   // payload bytes, guaranteed to lie inside the span
};

// Walks marker segments from SOI and returns the first whose marker satisfies `wanted`. The scan
// data after SOS is not segmented, so the walk stops there: reaching SOS (unless wanted) or EOI
// means the file has no such segment.
template <typename Wanted>
Result<JpegSegment> FindJpegSegment(std::span<const std::uint8_t> bytes, Wanted wanted) {
  Reader in(bytes);
  std::uint8_t b0 = 0, b1 = 0;
  if (!in.U8(b0) || !in.U8(b1) || b0 != 0xFF || b1 != 0xD8) {
    return Fail(ErrorCode::kUnsupportedFormat, "not a JPEG: no start-of-image marker");
  }
  while (true) {
    std::uint8_t ff = 0, marker = 0;
    if (!in.U8(ff)) return Fail(ErrorCode::kCorruptInput, "JPEG header is truncated");
    if (ff != 0xFF) {
      return Fail(ErrorCode::kCorruptInput, "JPEG header is damaged: expected a marker");
    }
    // Any number of 0xFF fill bytes may precede a marker (ITU T.81 B.1.1.2).
    do {
      if (!in.U8(marker)) return Fail(ErrorCode::kCorruptInput, "JPEG header is truncated");
    } while (marker == 0xFF);

    if (IsStandalone(marker)) continue;
    if (marker == 0xD8 || marker == 0xD9 || marker == 0x00 || (marker == 0xDA && !wanted(marker))) {
      return Fail(ErrorCode::kCorruptInput, "JPEG has no frame header before its image data");
    }
    std::uint32_t length = 0;
    if (!in.U16(length)) return Fail(ErrorCode::kCorruptInput, "JPEG header is truncated");
    if (length < 2) return Fail(ErrorCode::kCorruptInput, "JPEG segment length is invalid");
    const std::size_t payload = in.pos();
    if (!in.Skip(length - 2)) return Fail(ErrorCode::kCorruptInput, "JPEG header is truncated");
    if (wanted(marker)) return JpegSegment{marker, payload, length - 2};
  }
}

Result<ImageSize> ReadJpegSize(std::span<const std::uint8_t> bytes) {
  auto sof = FindJpegSegment(bytes, IsStartOfFrame);
  if (!sof) return std::unexpected(sof.error());
  // Payload: precision (1 byte), height (2), width (2), then the components.
  Reader in(bytes.subspan(sof->payload, sof->length));
  std::uint8_t precision = 0;
  std::uint32_t height = 0, width = 0;
  if (!in.U8(precision) || !in.U16(height) || !in.U16(width)) return Truncated("JPEG");
  // Height 0 means "defined later by a DNL marker"; a size we cannot check up front is a size we
  // do not accept.
  return Sized(width, height, "JPEG");
}

Result<ImageSize> ReadPngSize(std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Reader in(bytes);
  for (std::uint8_t expected : kSignature) {
    std::uint8_t got = 0;
    if (!in.U8(got) || got != expected) {
      return Fail(ErrorCode::kUnsupportedFormat, "not a PNG: signature does not match");
    }
  }
  // The PNG spec requires IHDR to be the first chunk, so there is nothing to walk.
  std::uint32_t length = 0, type = 0, width = 0, height = 0;
  if (!in.U32(length) || !in.U32(type)) return Truncated("PNG");
  if (type != 0x49484452u /* "IHDR" */ || length < 8) {
    return Fail(ErrorCode::kCorruptInput, "PNG does not start with an IHDR chunk");
  }
  if (!in.U32(width) || !in.U32(height)) return Truncated("PNG");
  return Sized(width, height, "PNG");
}

}  // namespace

bool HasJpegEndOfImage(std::span<const std::uint8_t> bytes) {
  auto sos = FindJpegSegment(bytes, [](std::uint8_t marker) { return marker == 0xDA; });
  if (!sos) return false;
  // Inside entropy-coded data a 0xFF byte is always followed by 0x00 (stuffing), RSTn or another
  // marker of a later scan, so the first FF D9 after the first scan header is the real EOI. An
  // EOI inside an earlier APPn thumbnail cannot fool this: the walk skipped those segments.
  for (std::size_t i = sos->payload + sos->length; i + 1 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9) return true;
  }
  return false;
}

Result<ImageSize> ReadHeaderSize(std::span<const std::uint8_t> bytes, ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return ReadJpegSize(bytes);
    case ImageFormat::kPng:
      return ReadPngSize(bytes);
    case ImageFormat::kDicom:
      break;
  }
  // DICOM dimensions live in the dataset (Rows/Columns); dicom.cc reads them with DCMTK.
  return Fail(ErrorCode::kInvalidArgument,
              "ReadHeaderSize handles JPEG and PNG only; DICOM sizes are read by DecodeDicom");
}

Result<void> CheckDimensions(const ImageSize& size, const DecodeLimits& limits) {
  const std::string dims = std::to_string(size.width) + "x" + std::to_string(size.height);
  if (size.width <= 0 || size.height <= 0) {
    return Fail(ErrorCode::kInvalidDimensions, "image has impossible dimensions " + dims);
  }
  if (size.width > limits.max_side || size.height > limits.max_side) {
    return Fail(ErrorCode::kImageTooLarge, "image is " + dims + " pixels; the limit is " +
                                               std::to_string(limits.max_side) + " pixels a side");
  }
  // Both factors are at most max_side (an int) here, so the product cannot overflow int64.
  if (size.width * size.height > limits.max_pixels) {
    return Fail(ErrorCode::kImageTooLarge, "image is " + dims + " pixels; the limit is " +
                                               std::to_string(limits.max_pixels) +
                                               " pixels in all");
  }
  return {};
}

}  // namespace pneumo::image
