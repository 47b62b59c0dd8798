#include <gtest/gtest.h>

#include <string>

#include "image/decode.h"
#include "serving/prediction_service.h"

namespace pneumo::serving {
namespace {

TEST(CleanFilename, KeepsTheLastComponentWithoutControlCharacters) {
  EXPECT_EQ(CleanFilename("C:\\scans\\chest.jpeg", image::ImageFormat::kJpeg), "chest.jpeg");
  EXPECT_EQ(CleanFilename("../../etc/passwd", image::ImageFormat::kJpeg), "passwd");
  EXPECT_EQ(CleanFilename("a\nb\tc.png", image::ImageFormat::kPng), "abc.png");
  EXPECT_EQ(CleanFilename("", image::ImageFormat::kDicom), "upload.dicom");
  EXPECT_EQ(CleanFilename("dir/", image::ImageFormat::kPng), "upload.png");
  const std::string long_name(300, 'x');
  EXPECT_EQ(CleanFilename(long_name, image::ImageFormat::kPng).size(), 255u);
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";  // é, two bytes each
  const std::string cut = CleanFilename(accents, image::ImageFormat::kPng);
  EXPECT_EQ(cut.size(), 254u) << "cut at a character boundary";
}

}  // namespace
}  // namespace pneumo::serving
