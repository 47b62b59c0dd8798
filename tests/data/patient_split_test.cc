#include "data/patient_split.h"

#include <gtest/gtest.h>

#include <set>

#include "testing/temp_dir.h"

namespace pneumo::data {
namespace {

std::vector<LabeledImage> ManyPatients() {
  std::vector<LabeledImage> images;
  for (int p = 0; p < 300; ++p) {
    const int label = p % 4 == 0 ? kNormal : kPneumonia;
    for (int k = 0; k <= p % 3; ++k)  // 1 to 3 images per patient
      images.push_back({"img" + std::to_string(p) + "_" + std::to_string(k), label,
                        "patient" + std::to_string(p)});
  }
  return images;
}

std::set<std::string> Patients(const std::vector<LabeledImage>& images) {
  std::set<std::string> out;
  for (const auto& i : images) out.insert(i.patient_id);
  return out;
}

void ExpectDisjoint(const Split& split) {
  const auto train = Patients(split.train);
  for (const auto& p : Patients(split.validation))
    EXPECT_FALSE(train.contains(p)) << p << " is on both sides";
}

TEST(PatientSplit, NeverPutsOnePatientOnBothSides) {
  const Split split = SplitByPatient(ManyPatients(), 0.2, 7);
  ExpectDisjoint(split);
  EXPECT_EQ(split.train.size() + split.validation.size(), ManyPatients().size());
}

TEST(PatientSplit, StratifiesPatientsByLabel) {
  const Split split = SplitByPatient(ManyPatients(), 0.2, 7);
  std::set<std::string> normal, pneumonia;
  for (const auto& i : split.validation) (i.label ? pneumonia : normal).insert(i.patient_id);
  EXPECT_EQ(normal.size(), 15u);     // 20% of 75 normal patients
  EXPECT_EQ(pneumonia.size(), 45u);  // 20% of 225 pneumonia patients
}

TEST(PatientSplit, IsReproducibleForASeedAndChangesWithIt) {
  const auto a = SplitByPatient(ManyPatients(), 0.2, 7);
  const auto b = SplitByPatient(ManyPatients(), 0.2, 7);
  const auto c = SplitByPatient(ManyPatients(), 0.2, 8);
  EXPECT_EQ(Patients(a.validation), Patients(b.validation));
  EXPECT_NE(Patients(a.validation), Patients(c.validation));
}

TEST(PatientSplit, KeepsRealKermanyPatientsOnOneSide) {
  const auto dir = testing::SharedTrainDir();
  if (dir.empty()) GTEST_SKIP() << testing::kNoSharedData;
  auto images = ScanImageFolder(dir);
  ASSERT_TRUE(images);
  ASSERT_EQ(images->size(), 5216u);
  const Split split = SplitByPatient(*images, 0.15, 42);
  ExpectDisjoint(split);
  EXPECT_EQ(Patients(*images).size(), 2846u);  // as stated in the data set's README
  EXPECT_GT(split.validation.size(), 600u);
}

}  // namespace
}  // namespace pneumo::data
