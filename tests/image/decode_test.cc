#include "image/decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "core/file_bytes.h"
#include "test_images.h"

namespace pneumo::image {
namespace {

using testing::Bytes;
using testing::EncodeImage;
using testing::FailsWith;
using testing::MaxAbsDiff;

// A horizontal ramp 0..255 with some vertical variation, so both axes matter.
cv::Mat Gradient8(int rows, int cols) {
  cv::Mat m(rows, cols, CV_8UC1);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) m.at<std::uint8_t>(y, x) = (x * 255 / (cols - 1) + y) % 256;
  }
  return m;
}

cv::Mat To01(const cv::Mat& m8) {
  cv::Mat f;
  m8.convertTo(f, CV_32F, 1.0 / 255.0);
  return f;
}

void ExpectGray01(const cv::Mat& m, int rows, int cols) {
  EXPECT_EQ(m.type(), CV_32FC1);
  EXPECT_EQ(m.rows, rows);
  EXPECT_EQ(m.cols, cols);
  double lo = 0, hi = 0;
  cv::minMaxLoc(m, &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
}

TEST(SniffFormat, RecognisesEachFormatByItsMagicBytes) {
  const cv::Mat small(4, 4, CV_8UC1, cv::Scalar(1));
  EXPECT_EQ(SniffFormat(EncodeImage(".jpg", small)), ImageFormat::kJpeg);
  EXPECT_EQ(SniffFormat(EncodeImage(".png", small)), ImageFormat::kPng);
  Bytes dicom(132, 0xEE);  // preamble content is unspecified
  std::copy_n("DICM", 4, dicom.begin() + 128);
  EXPECT_EQ(SniffFormat(dicom), ImageFormat::kDicom);
}

TEST(SniffFormat, ReportsEmptyInputAsEmpty) {
  EXPECT_TRUE(FailsWith(SniffFormat({}), ErrorCode::kEmptyInput));
}

TEST(SniffFormat, ReportsOtherFormatsAsUnsupported) {
  const cv::Mat small(4, 4, CV_8UC1, cv::Scalar(1));
  EXPECT_TRUE(FailsWith(SniffFormat(EncodeImage(".bmp", small)), ErrorCode::kUnsupportedFormat));
  const std::string text = "<html>not an image</html>";
  EXPECT_TRUE(
      FailsWith(SniffFormat(Bytes(text.begin(), text.end())), ErrorCode::kUnsupportedFormat));
}

TEST(FormatName, GivesTheLowercaseNameOfEachFormat) {
  EXPECT_EQ(FormatName(ImageFormat::kJpeg), "jpeg");
  EXPECT_EQ(FormatName(ImageFormat::kPng), "png");
  EXPECT_EQ(FormatName(ImageFormat::kDicom), "dicom");
}

TEST(DecodeImage, DecodesAnEightBitGrayPngExactly) {
  const cv::Mat source = Gradient8(31, 47);
  auto gray = DecodeImage(EncodeImage(".png", source));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  ExpectGray01(*gray, 31, 47);
  EXPECT_LT(MaxAbsDiff(*gray, To01(source)), 1e-6);
}

TEST(DecodeImage, DecodesAnEightBitGrayJpegWithinCompressionError) {
  const cv::Mat source = Gradient8(64, 80);
  auto gray = DecodeImage(EncodeImage(".jpg", source, {cv::IMWRITE_JPEG_QUALITY, 98}));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  ExpectGray01(*gray, 64, 80);
  EXPECT_LT(cv::mean(cv::abs(*gray - To01(source)))[0], 0.01);
}

TEST(DecodeImage, TurnsAnRgbJpegIntoLuminance) {
  // Equal channels (as in the Kermany copy) must give back the same gray level.
  const cv::Mat source = Gradient8(32, 32);
  cv::Mat bgr;
  cv::merge(std::vector<cv::Mat>{source, source, source}, bgr);
  auto gray = DecodeImage(EncodeImage(".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 98}));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  ExpectGray01(*gray, 32, 32);
  EXPECT_LT(cv::mean(cv::abs(*gray - To01(source)))[0], 0.01);
}

TEST(DecodeImage, WeighsRgbPngChannelsByLuminance) {
  // Pure red, green and blue columns: BT.601 weights 0.299, 0.587, 0.114.
  cv::Mat bgr(2, 3, CV_8UC3, cv::Scalar(0, 0, 0));
  bgr.at<cv::Vec3b>(0, 0) = {0, 0, 255};
  bgr.at<cv::Vec3b>(0, 1) = {0, 255, 0};
  bgr.at<cv::Vec3b>(0, 2) = {255, 0, 0};
  auto gray = DecodeImage(EncodeImage(".png", bgr));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  EXPECT_NEAR(gray->at<float>(0, 0), 0.299f, 1e-3);
  EXPECT_NEAR(gray->at<float>(0, 1), 0.587f, 1e-3);
  EXPECT_NEAR(gray->at<float>(0, 2), 0.114f, 1e-3);
  EXPECT_EQ(gray->at<float>(1, 0), 0.0f);
}

TEST(DecodeImage, IgnoresTheAlphaChannelOfAnRgbaPng) {
  cv::Mat bgra(3, 3, CV_8UC4, cv::Scalar(200, 200, 200, 255));
  bgra.at<cv::Vec4b>(1, 1) = {200, 200, 200, 0};  // fully transparent, same colour
  auto gray = DecodeImage(EncodeImage(".png", bgra));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  ExpectGray01(*gray, 3, 3);
  EXPECT_NEAR(gray->at<float>(1, 1), 200.0f / 255.0f, 1e-5);
  EXPECT_NEAR(gray->at<float>(0, 0), 200.0f / 255.0f, 1e-5);
}

TEST(DecodeImage, KeepsTheFullPrecisionOfASixteenBitPng) {
  cv::Mat source(2, 3, CV_16UC1);
  source.at<std::uint16_t>(0, 0) = 0;
  source.at<std::uint16_t>(0, 1) = 1000;
  source.at<std::uint16_t>(0, 2) = 1001;  // one 16-bit step: lost if squeezed through 8 bits
  source.at<std::uint16_t>(1, 0) = 32768;
  source.at<std::uint16_t>(1, 1) = 65534;
  source.at<std::uint16_t>(1, 2) = 65535;
  auto gray = DecodeImage(EncodeImage(".png", source));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  ExpectGray01(*gray, 2, 3);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      EXPECT_NEAR(gray->at<float>(y, x), source.at<std::uint16_t>(y, x) / 65535.0, 1e-7);
    }
  }
  EXPECT_GT(gray->at<float>(0, 2), gray->at<float>(0, 1));
}

TEST(DecodeImage, KeepsSixteenBitPrecisionThroughTheColourConversion) {
  cv::Mat source(1, 2, CV_16UC3);
  source.at<cv::Vec3w>(0, 0) = {1000, 1000, 1000};
  source.at<cv::Vec3w>(0, 1) = {1001, 1001, 1001};
  auto gray = DecodeImage(EncodeImage(".png", source));
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  EXPECT_NEAR(gray->at<float>(0, 0), 1000 / 65535.0, 1e-6);
  EXPECT_NEAR(gray->at<float>(0, 1), 1001 / 65535.0, 1e-6);
}

TEST(DecodeImage, AcceptsAJpegWithPaddingAfterTheEndOfImage) {
  Bytes jpeg = EncodeImage(".jpg", Gradient8(16, 16));
  jpeg.insert(jpeg.end(), 16, 0x00);
  EXPECT_TRUE(DecodeImage(jpeg).has_value());
}

TEST(DecodeImage, RejectsEmptyInput) {
  EXPECT_TRUE(FailsWith(DecodeImage({}), ErrorCode::kEmptyInput));
}

TEST(DecodeImage, RejectsRandomBytesAsUnsupported) {
  EXPECT_TRUE(FailsWith(DecodeImage(testing::RandomBytes(4096, 7)), ErrorCode::kUnsupportedFormat));
}

TEST(DecodeImage, RejectsATruncatedJpeg) {
  const Bytes jpeg = EncodeImage(".jpg", Gradient8(128, 128));
  for (std::size_t keep : {jpeg.size() - 2, jpeg.size() * 3 / 4, jpeg.size() / 2}) {
    EXPECT_TRUE(FailsWith(DecodeImage(std::span(jpeg).first(keep)), ErrorCode::kCorruptInput))
        << "kept " << keep << " of " << jpeg.size() << " bytes";
  }
}

TEST(DecodeImage, RejectsATruncatedPng) {
  // Noise, so the pixel data is most of the file and every cut lands inside it.
  cv::Mat noise(128, 128, CV_8UC1);
  cv::randu(noise, 0, 256);
  const Bytes png = EncodeImage(".png", noise);
  for (std::size_t keep : {png.size() * 3 / 4, png.size() / 2, std::size_t{40}}) {
    EXPECT_TRUE(FailsWith(DecodeImage(std::span(png).first(keep)), ErrorCode::kCorruptInput))
        << "kept " << keep << " of " << png.size() << " bytes";
  }
}

TEST(DecodeImage, RejectsAPngHeaderClaiming20000By20000BeforeDecoding) {
  // Only IHDR is patched; its CRC is now wrong, which libpng would catch, but the size check has
  // to refuse the file before libpng ever sees it.
  Bytes png = EncodeImage(".png", Gradient8(8, 8));
  testing::PutBigEndian32(png, 16, 20000);
  testing::PutBigEndian32(png, 20, 20000);
  EXPECT_TRUE(FailsWith(DecodeImage(png), ErrorCode::kImageTooLarge));
}

TEST(DecodeImage, RejectsAJpegHeaderClaimingMoreThan100Megapixels) {
  Bytes jpeg = EncodeImage(".jpg", Gradient8(8, 8));
  const std::size_t sof = testing::FindStartOfFrame(jpeg);
  testing::PutBigEndian16(jpeg, sof + 5, 12000);  // height
  testing::PutBigEndian16(jpeg, sof + 7, 12000);  // width
  EXPECT_TRUE(FailsWith(DecodeImage(jpeg), ErrorCode::kImageTooLarge));
}

TEST(DecodeImage, RejectsAJpegWhoseFrameHeaderClaimsZeroHeight) {
  Bytes jpeg = EncodeImage(".jpg", Gradient8(8, 8));
  testing::PutBigEndian16(jpeg, testing::FindStartOfFrame(jpeg) + 5, 0);
  EXPECT_TRUE(FailsWith(DecodeImage(jpeg), ErrorCode::kInvalidDimensions));
}

TEST(DecodeImage, AppliesTheCallersLimits) {
  const Bytes png = EncodeImage(".png", Gradient8(40, 30));
  EXPECT_TRUE(FailsWith(DecodeImage(png, DecodeLimits{.max_side = 32}), ErrorCode::kImageTooLarge));
  EXPECT_TRUE(
      FailsWith(DecodeImage(png, DecodeLimits{.max_pixels = 1000}), ErrorCode::kImageTooLarge));
  EXPECT_TRUE(FailsWith(DecodeImage(png, DecodeLimits{.max_bytes = png.size() - 1}),
                        ErrorCode::kImageTooLarge));
  EXPECT_TRUE(DecodeImage(png, DecodeLimits{.max_side = 40, .max_pixels = 1200}).has_value());
}

TEST(DecodeImageFile, DecodesAFileFromDisk) {
  testing::TempDir dir;
  testing::WriteBytes(dir / "x.png", EncodeImage(".png", Gradient8(10, 12)));
  auto gray = DecodeImageFile(dir / "x.png");
  ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
  ExpectGray01(*gray, 10, 12);
}

TEST(DecodeImageFile, SniffsTheFormatRatherThanTrustingTheExtension) {
  testing::TempDir dir;
  testing::WriteBytes(dir / "really_a_png.jpeg", EncodeImage(".png", Gradient8(10, 12)));
  EXPECT_TRUE(DecodeImageFile(dir / "really_a_png.jpeg").has_value());
}

TEST(DecodeImageFile, ReportsAMissingFileAsNotFound) {
  testing::TempDir dir;
  EXPECT_TRUE(FailsWith(DecodeImageFile(dir / "absent.png"), ErrorCode::kNotFound));
}

TEST(DecodeImageFile, ReportsADirectoryAsAnIoError) {
  testing::TempDir dir;
  EXPECT_TRUE(FailsWith(DecodeImageFile(dir.path()), ErrorCode::kIoError));
}

TEST(DecodeImageFile, ReportsAnEmptyFileAsEmptyInput) {
  testing::TempDir dir;
  testing::WriteBytes(dir / "empty.jpg", {});
  EXPECT_TRUE(FailsWith(DecodeImageFile(dir / "empty.jpg"), ErrorCode::kEmptyInput));
}

TEST(ReadFileBytes, RefusesAFileOverTheByteLimitWithoutReadingIt) {
  testing::TempDir dir;
  testing::WriteBytes(dir / "big.bin", Bytes(1000, 1));
  EXPECT_TRUE(FailsWith(ReadFileBytes(dir / "big.bin", 999), ErrorCode::kImageTooLarge));
  auto bytes = ReadFileBytes(dir / "big.bin", 1000);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().ToString();
  EXPECT_EQ(*bytes, Bytes(1000, 1));
}

// The training images are 224x224 three-channel JPEGs with equal channels (../shared/data).
TEST(DecodeImageFile, DecodesRealTrainingImages) {
  const std::filesystem::path root = PNEUMO_SHARED_DATA_DIR;
  if (!std::filesystem::is_directory(root / "train")) {
    GTEST_SKIP() << "../shared/data not found: real-image check not run (looked in " << root << ")";
  }
  int decoded = 0;
  for (const char* label : {"NORMAL", "PNEUMONIA"}) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(root / "train" / label)) {
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    files.resize(std::min<std::size_t>(files.size(), 25));  // a sample keeps the unit test fast
    for (const auto& file : files) {
      auto gray = DecodeImageFile(file);
      ASSERT_TRUE(gray.has_value()) << gray.error().ToString();
      ExpectGray01(*gray, 224, 224);
      cv::Scalar mean, std;
      cv::meanStdDev(*gray, mean, std);
      EXPECT_GT(std[0], 0.05) << "a chest X-ray should not be flat";
      ++decoded;
    }
  }
  EXPECT_EQ(decoded, 50);
}

// A smooth "radiograph" with detail at every scale, as a large JPEG.
cv::Mat LargeGradient(int side) {
  cv::Mat m(side, side, CV_8UC1);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      m.at<std::uint8_t>(y, x) =
          static_cast<std::uint8_t>(127 + 60 * std::sin(x * 0.01) + 60 * std::cos(y * 0.013));
  return m;
}

std::vector<std::uint8_t> EncodeJpeg(const cv::Mat& image) {
  std::vector<std::uint8_t> bytes;
  cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, 95});
  return bytes;
}

TEST(DecodeForInference, DecodesALargeJpegAtReducedScaleButReportsItsRealSize) {
  const auto bytes = EncodeJpeg(LargeGradient(2000));
  auto reduced = DecodeForInference(bytes, /*min_side=*/384);
  ASSERT_TRUE(reduced) << reduced.error().ToString();
  EXPECT_EQ(reduced->width, 2000);
  EXPECT_EQ(reduced->height, 2000);
  EXPECT_EQ(reduced->gray.size(), cv::Size(500, 500))
      << "1/4 scale is the smallest with both sides >= 384";
  EXPECT_EQ(reduced->format, ImageFormat::kJpeg);
  EXPECT_FALSE(reduced->colour);

  // What the model sees differs from a full decode by little: DCT scaling is an 8x8 block average.
  auto full = DecodeImage(bytes);
  ASSERT_TRUE(full);
  cv::Mat a, b;
  cv::resize(reduced->gray, a, {192, 192}, 0, 0, cv::INTER_AREA);
  cv::resize(*full, b, {192, 192}, 0, 0, cv::INTER_AREA);
  EXPECT_LT(cv::norm(a, b, cv::NORM_L1) / (192.0 * 192.0), 0.01);
}

TEST(DecodeForInference, KeepsSmallImagesAndOtherFormatsAtFullSize) {
  auto small = DecodeForInference(EncodeJpeg(LargeGradient(224)), 384);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->gray.size(), cv::Size(224, 224));
  std::vector<std::uint8_t> png;
  cv::imencode(".png", LargeGradient(900), png);
  auto big_png = DecodeForInference(png, 192);
  ASSERT_TRUE(big_png);
  EXPECT_EQ(big_png->gray.size(), cv::Size(900, 900));
  EXPECT_EQ(DecodeForInference(EncodeJpeg(LargeGradient(900)), 0)->gray.size(), cv::Size(900, 900))
      << "min_side 0 never reduces";
}

TEST(DecodeForInference, TellsAColourPhotographFromAGrayImageStoredAsRgb) {
  cv::Mat gray_as_rgb;
  cv::cvtColor(LargeGradient(300), gray_as_rgb, cv::COLOR_GRAY2BGR);
  EXPECT_FALSE(DecodeForInference(EncodeJpeg(gray_as_rgb), 0)->colour);
  cv::Mat photo(300, 300, CV_8UC3);
  for (int y = 0; y < 300; ++y)
    for (int x = 0; x < 300; ++x) photo.at<cv::Vec3b>(y, x) = cv::Vec3b(x % 256, 200 - y / 2, 40);
  EXPECT_TRUE(DecodeForInference(EncodeJpeg(photo), 0)->colour);
}

TEST(DecodeForInference, GivesNoDicomAttributesForAJpegOrPng) {
  auto jpeg = DecodeForInference(EncodeJpeg(LargeGradient(64)), 0);
  ASSERT_TRUE(jpeg) << jpeg.error().ToString();
  EXPECT_FALSE(jpeg->dicom.has_value());
  std::vector<std::uint8_t> png;
  cv::imencode(".png", LargeGradient(64), png);
  auto decoded_png = DecodeForInference(png, 0);
  ASSERT_TRUE(decoded_png) << decoded_png.error().ToString();
  EXPECT_FALSE(decoded_png->dicom.has_value());
}

TEST(DecodeForInference, RefusesWhatDecodeImageRefuses) {
  const std::vector<std::uint8_t> text = {'n', 'o', 't', ' ', 'a', 'n',
                                          ' ', 'i', 'm', 'a', 'g', 'e'};
  EXPECT_EQ(DecodeForInference(text, 384).error().code, ErrorCode::kUnsupportedFormat);
  auto truncated = EncodeJpeg(LargeGradient(600));
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(DecodeForInference(truncated, 384).error().code, ErrorCode::kCorruptInput);
  EXPECT_EQ(DecodeForInference({}, 384).error().code, ErrorCode::kEmptyInput);
}

}  // namespace
}  // namespace pneumo::image
