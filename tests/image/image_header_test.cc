#include "image/image_header.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "test_images.h"

namespace pneumo::image {
namespace {

using testing::Bytes;
using testing::EncodeImage;
using testing::FailsWith;

// A non-square size catches width and height swapped.
const cv::Mat kSample(23, 37, CV_8UC1, cv::Scalar(128));

TEST(ReadHeaderSize, ReadsWidthAndHeightOfABaselineJpeg) {
  auto size = ReadHeaderSize(EncodeImage(".jpg", kSample), ImageFormat::kJpeg);
  ASSERT_TRUE(size.has_value()) << size.error().ToString();
  EXPECT_EQ(size->width, 37);
  EXPECT_EQ(size->height, 23);
}

TEST(ReadHeaderSize, ReadsWidthAndHeightOfAProgressiveJpeg) {
  auto size = ReadHeaderSize(EncodeImage(".jpg", kSample, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}),
                             ImageFormat::kJpeg);
  ASSERT_TRUE(size.has_value()) << size.error().ToString();
  EXPECT_EQ(size->width, 37);
  EXPECT_EQ(size->height, 23);
}

TEST(ReadHeaderSize, ReadsWidthAndHeightOfAPng) {
  auto size = ReadHeaderSize(EncodeImage(".png", kSample), ImageFormat::kPng);
  ASSERT_TRUE(size.has_value()) << size.error().ToString();
  EXPECT_EQ(size->width, 37);
  EXPECT_EQ(size->height, 23);
}

TEST(ReadHeaderSize, SkipsFillBytesAndSegmentsThatAreNotFrameHeaders) {
  // SOI, fill bytes, an APP0 segment, a DHT (C4, inside the SOF range but not a frame header)
  // whose payload would read as 0x0102 x 0x0304, then SOF0 declaring 640 wide by 480 high.
  const Bytes jpeg = {0xFF, 0xD8,                                            // SOI
                      0xFF, 0xFF, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB,        // APP0
                      0xFF, 0xC4, 0x00, 0x07, 0x08, 0x01, 0x02, 0x03, 0x04,  // DHT
                      0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x01, 0x01, 0x11, 0x00};
  auto size = ReadHeaderSize(jpeg, ImageFormat::kJpeg);
  ASSERT_TRUE(size.has_value()) << size.error().ToString();
  EXPECT_EQ(size->width, 640);
  EXPECT_EQ(size->height, 480);
}

TEST(ReadHeaderSize, RejectsAJpegFrameHeaderDeclaringZeroHeight) {
  Bytes jpeg = EncodeImage(".jpg", kSample);
  testing::PutBigEndian16(jpeg, testing::FindStartOfFrame(jpeg) + 5, 0);
  EXPECT_TRUE(FailsWith(ReadHeaderSize(jpeg, ImageFormat::kJpeg), ErrorCode::kInvalidDimensions));
}

TEST(ReadHeaderSize, RejectsAPngDeclaringZeroWidth) {
  Bytes png = EncodeImage(".png", kSample);
  testing::PutBigEndian32(png, 16, 0);  // IHDR width: signature 8 + length 4 + type 4
  EXPECT_TRUE(FailsWith(ReadHeaderSize(png, ImageFormat::kPng), ErrorCode::kInvalidDimensions));
}

TEST(ReadHeaderSize, RejectsAJpegWhoseImageDataStartsBeforeAnyFrameHeader) {
  const Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0x00, 0xFF, 0xD9};
  EXPECT_TRUE(FailsWith(ReadHeaderSize(jpeg, ImageFormat::kJpeg), ErrorCode::kCorruptInput));
}

TEST(ReadHeaderSize, RejectsAJpegSegmentLengthBelowTwo) {
  const Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xC0};
  EXPECT_TRUE(FailsWith(ReadHeaderSize(jpeg, ImageFormat::kJpeg), ErrorCode::kCorruptInput));
}

TEST(ReadHeaderSize, RejectsAJpegSegmentThatRunsPastTheEnd) {
  const Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xF0, 0x00};
  EXPECT_TRUE(FailsWith(ReadHeaderSize(jpeg, ImageFormat::kJpeg), ErrorCode::kCorruptInput));
}

TEST(ReadHeaderSize, RejectsAPngWhoseFirstChunkIsNotIhdr) {
  Bytes png = EncodeImage(".png", kSample);
  png[12] = 'X';  // chunk type "IHDR" -> "XHDR"
  EXPECT_TRUE(FailsWith(ReadHeaderSize(png, ImageFormat::kPng), ErrorCode::kCorruptInput));
}

TEST(ReadHeaderSize, ReportsBytesWithTheWrongMagicAsUnsupported) {
  const Bytes garbage = testing::RandomBytes(64, 1);
  EXPECT_TRUE(FailsWith(ReadHeaderSize(Bytes{0x00, 0x01}, ImageFormat::kJpeg),
                        ErrorCode::kUnsupportedFormat));
  EXPECT_TRUE(FailsWith(ReadHeaderSize(garbage, ImageFormat::kPng), ErrorCode::kUnsupportedFormat));
}

TEST(ReadHeaderSize, RefusesDicomBecauseItsSizeLivesInTheDataset) {
  EXPECT_TRUE(
      FailsWith(ReadHeaderSize(Bytes(200, 0), ImageFormat::kDicom), ErrorCode::kInvalidArgument));
}

TEST(ReadHeaderSize, FailsCleanlyOnEveryTruncationOfARealHeader) {
  for (const char* ext : {".jpg", ".png"}) {
    const Bytes full = EncodeImage(ext, kSample);
    const ImageFormat format = std::string(ext) == ".jpg" ? ImageFormat::kJpeg : ImageFormat::kPng;
    ASSERT_TRUE(ReadHeaderSize(full, format).has_value());
    // Once the frame header is complete the size is readable; before that every prefix must be
    // an error, not a crash or a garbage size.
    std::size_t first_success = full.size();
    for (std::size_t n = 0; n < full.size(); ++n) {
      auto size = ReadHeaderSize(std::span(full).first(n), format);
      if (size.has_value()) {
        first_success = std::min(first_success, n);
        EXPECT_EQ(size->width, 37) << ext << " prefix " << n;
        EXPECT_EQ(size->height, 23) << ext << " prefix " << n;
      } else {
        EXPECT_LT(n, first_success) << ext << ": a longer prefix failed after a shorter one worked";
      }
    }
  }
}

TEST(ReadHeaderSize, NeverReadsPastTheSpanOnRandomGarbage) {
  // The garbage starts with a valid signature so the walker gets past the magic check. The span
  // is a window into a larger buffer whose tail is poisoned with a valid-looking SOF: if the
  // parser read past the span it would find it and report 0xABCD x 0xABCD.
  const Bytes poison = {0xFF, 0xC0, 0x00, 0x11, 0x08, 0xAB, 0xCD, 0xAB, 0xCD};
  for (std::uint32_t seed = 0; seed < 3000; ++seed) {
    Bytes buffer = testing::RandomBytes(2 + seed % 97, seed);
    buffer[0] = 0xFF;
    buffer[1] = 0xD8;
    const std::size_t n = buffer.size();
    buffer.insert(buffer.end(), poison.begin(), poison.end());
    auto size = ReadHeaderSize(std::span(buffer).first(n), ImageFormat::kJpeg);
    if (size) {
      EXPECT_FALSE(size->width == 0xABCD && size->height == 0xABCD) << "seed " << seed;
      EXPECT_GT(size->width, 0);
      EXPECT_GT(size->height, 0);
    }
  }
}

TEST(HasJpegEndOfImage, IsTrueForACompleteJpeg) {
  EXPECT_TRUE(HasJpegEndOfImage(EncodeImage(".jpg", kSample)));
}

TEST(HasJpegEndOfImage, IsTrueWhenBytesFollowTheEndOfImage) {
  Bytes jpeg = EncodeImage(".jpg", kSample);
  jpeg.insert(jpeg.end(), {0x00, 0x00, 0x00, 0x12, 0x34});
  EXPECT_TRUE(HasJpegEndOfImage(jpeg));
}

TEST(HasJpegEndOfImage, IsFalseForATruncatedJpeg) {
  const Bytes jpeg = EncodeImage(".jpg", kSample);
  EXPECT_FALSE(HasJpegEndOfImage(std::span(jpeg).first(jpeg.size() - 2)));
  EXPECT_FALSE(HasJpegEndOfImage(std::span(jpeg).first(jpeg.size() / 2)));
}

TEST(HasJpegEndOfImage, IsNotFooledByAnEndMarkerInsideAnEarlierSegment) {
  // An EXIF thumbnail is a whole JPEG, EOI included, inside an APP1 segment before the frame.
  const Bytes jpeg = EncodeImage(".jpg", kSample);
  Bytes with_thumbnail = {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9};
  with_thumbnail.insert(with_thumbnail.end(), jpeg.begin() + 2, jpeg.end() - 2);  // EOI cut off
  EXPECT_FALSE(HasJpegEndOfImage(with_thumbnail));
}

TEST(CheckDimensions, AcceptsASizeWithinTheLimits) {
  EXPECT_TRUE(CheckDimensions({2000, 3000}, DecodeLimits{}).has_value());
  EXPECT_TRUE(CheckDimensions({16384, 6000}, DecodeLimits{}).has_value());
}

TEST(CheckDimensions, RejectsASideOverTheLimit) {
  EXPECT_TRUE(FailsWith(CheckDimensions({16385, 10}, DecodeLimits{}), ErrorCode::kImageTooLarge));
  EXPECT_TRUE(FailsWith(CheckDimensions({10, 20000}, DecodeLimits{}), ErrorCode::kImageTooLarge));
}

TEST(CheckDimensions, RejectsAPixelCountOverTheLimitEvenWhenEachSideFits) {
  EXPECT_TRUE(
      FailsWith(CheckDimensions({12000, 12000}, DecodeLimits{}), ErrorCode::kImageTooLarge));
}

TEST(CheckDimensions, RejectsZeroAndNegativeSizes) {
  EXPECT_TRUE(FailsWith(CheckDimensions({0, 10}, DecodeLimits{}), ErrorCode::kInvalidDimensions));
  EXPECT_TRUE(FailsWith(CheckDimensions({10, -1}, DecodeLimits{}), ErrorCode::kInvalidDimensions));
}

}  // namespace
}  // namespace pneumo::image
