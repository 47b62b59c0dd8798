#include "data/image_folder.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace pneumo::data {
namespace {
namespace fs = std::filesystem;

void Touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

TEST(ImageFolder, ListsBothClassesWithLabelsAndPatients) {
  testing::TempDir dir;
  Touch(dir.path() / "NORMAL" / "IM-0001-0001.jpeg");
  Touch(dir.path() / "PNEUMONIA" / "person7_virus_3.JPG");
  Touch(dir.path() / "PNEUMONIA" / "notes.txt");
  auto images = ScanImageFolder(dir.path());
  ASSERT_TRUE(images) << images.error().ToString();
  ASSERT_EQ(images->size(), 2u);
  EXPECT_EQ((*images)[0].label, kNormal);
  EXPECT_EQ((*images)[0].patient_id, "IM-0001");
  EXPECT_EQ((*images)[1].label, kPneumonia);
  EXPECT_EQ((*images)[1].patient_id, "person7");
}

TEST(ImageFolder, DescendsIntoTheRequestedSplitOfAParent) {
  testing::TempDir dir;
  Touch(dir.path() / "train" / "NORMAL" / "a.png");
  Touch(dir.path() / "test" / "PNEUMONIA" / "b.png");
  auto train = ScanImageFolder(dir.path(), "train");
  auto test = ScanImageFolder(dir.path(), "test");
  ASSERT_TRUE(train && test);
  EXPECT_EQ(train->front().label, kNormal);
  EXPECT_EQ(test->front().label, kPneumonia);
}

TEST(ImageFolder, ExplainsAWrongLayout) {
  testing::TempDir dir;
  Touch(dir.path() / "cats" / "a.png");
  auto images = ScanImageFolder(dir.path());
  ASSERT_FALSE(images);
  EXPECT_EQ(images.error().code, ErrorCode::kNotFound);
  EXPECT_NE(images.error().message.find("NORMAL"), std::string::npos);
  EXPECT_EQ(ScanImageFolder(dir.path() / "missing").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace pneumo::data
