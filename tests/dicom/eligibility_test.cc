#include "dicom/eligibility.h"

#include <gtest/gtest.h>

#include "chest_dicom.h"
#include "image/dicom_attributes.h"

namespace pneumo::dicom {
namespace {

image::DicomAttributes ChestDx() {
  image::DicomAttributes a;
  a.modality = "DX";
  a.body_part_examined = "CHEST";
  a.view_position = "PA";
  a.photometric_interpretation = "MONOCHROME2";
  a.has_pixel_data = true;
  return a;
}

TEST(Eligibility, AcceptsAFrontalChestRadiograph) {
  for (const char* modality : {"DX", "CR", "DR", "dx"}) {
    auto a = ChestDx();
    a.modality = modality;
    EXPECT_TRUE(CheckEligibility(a).eligible) << modality;
  }
  auto ap = ChestDx();
  ap.view_position = "AP";
  EXPECT_TRUE(CheckEligibility(ap).eligible);
}

TEST(Eligibility, AcceptsAbsentOptionalAttributes) {
  auto a = ChestDx();
  a.body_part_examined.clear();
  a.view_position.clear();
  EXPECT_TRUE(CheckEligibility(a).eligible);
}

TEST(Eligibility, RefusesOtherModalitiesNamingThem) {
  auto ct = ChestDx();
  ct.modality = "CT";
  const Eligibility e = CheckEligibility(ct);
  EXPECT_FALSE(e.eligible);
  EXPECT_NE(e.reason.find("CT"), std::string::npos) << e.reason;
  auto none = ChestDx();
  none.modality.clear();
  EXPECT_FALSE(CheckEligibility(none).eligible);
}

TEST(Eligibility, RefusesOtherBodyPartsAndLateralViews) {
  auto knee = ChestDx();
  knee.body_part_examined = "KNEE";
  EXPECT_NE(CheckEligibility(knee).reason.find("KNEE"), std::string::npos);
  auto lateral = ChestDx();
  lateral.view_position = "LL";
  const Eligibility e = CheckEligibility(lateral);
  EXPECT_FALSE(e.eligible);
  EXPECT_NE(e.reason.find("frontal"), std::string::npos) << e.reason;
}

TEST(Eligibility, RefusesUndecodablePhotometricAndMissingPixels) {
  auto ybr = ChestDx();
  ybr.photometric_interpretation = "YBR_ICT";
  EXPECT_FALSE(CheckEligibility(ybr).eligible);
  auto report = ChestDx();
  report.has_pixel_data = false;
  EXPECT_NE(CheckEligibility(report).reason.find("pixel"), std::string::npos);
}

TEST(Eligibility, JudgesAHeaderReadFromAFile) {
  const auto bytes = testing::MakeChestDicom(testing::RealOrSyntheticChest());
  auto a = image::ReadDicomAttributes(bytes);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->accession_number, "ACC-1001");
  EXPECT_EQ(a->transfer_syntax_uid, UID_LittleEndianExplicitTransferSyntax);
  EXPECT_TRUE(CheckEligibility(*a).eligible) << CheckEligibility(*a).reason;
  EXPECT_FALSE(image::ReadDicomAttributes(std::vector<std::uint8_t>(300, 7)));
}

}  // namespace
}  // namespace pneumo::dicom
