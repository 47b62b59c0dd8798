#include "dicom/result_objects.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <gtest/gtest.h>

#include "chest_dicom.h"
#include "dicom/part10.h"

namespace pneumo::dicom {
namespace {

store::PredictionRecord DicomRecord(std::string label = "PNEUMONIA", double probability = 0.8731) {
  store::PredictionRecord r;
  r.id = "01JD3F0Q5C2B6W9Y8K7T4R1M0N";
  r.label = std::move(label);
  r.probability = probability;
  r.threshold = 0.7545;
  r.review = true;
  r.model_name = "pneumo-pneumonet";
  r.model_version = "2.0.0";
  r.created_at_ms = 1'764'630'000'123;
  r.details_json = R"({"review_reasons":["probability 0.87 is near the threshold 0.75"]})";
  r.dicom = {.study_instance_uid = "1.2.826.0.1.3680043.10.1001",
             .series_instance_uid = "1.2.826.0.1.3680043.10.1001.1",
             .sop_instance_uid = "1.2.826.0.1.3680043.10.1001.1.1",
             .sop_class_uid = UID_DigitalXRayImageStorageForPresentation,
             .accession_number = "ACC-1001",
             .modality = "DX",
             .patient_id = "PAT-42",
             .patient_name = "Müller^Jürgen"};
  return r;
}

std::string Text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  item.findAndGetOFStringArray(tag, value, /*searchIntoSub=*/OFTrue);
  return value.c_str();
}

// Finds the content item with concept `code` anywhere in the tree; 0 when absent.
size_t Find(DSRDocumentTree& tree, const char* code, const char* scheme) {
  return tree.gotoNamedNode(DSRCodedEntryValue(code, scheme, "x"), OFTrue, OFTrue);
}

TEST(StructuredReport, HoldsTheFindingProbabilityAndThresholdAsReadBackByDcmtk) {
  auto sr = MakeStructuredReport(DicomRecord());
  ASSERT_TRUE(sr) << sr.error().ToString();
  auto file = ParsePart10(sr->bytes);
  ASSERT_TRUE(file) << file.error().ToString();
  DSRDocument doc;
  ASSERT_TRUE(doc.read(*(*file)->getDataset()).good());
  EXPECT_EQ(doc.getDocumentType(), DSRTypes::DT_ComprehensiveSR);
  EXPECT_EQ(doc.getVerificationFlag(), DSRTypes::VF_Unverified);
  DSRDocumentTree& tree = doc.getTree();

  ASSERT_GT(Find(tree, kPneumoniaCode, "SCT"), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getCodeValue().getCodeValue(), kPresentCode);
  ASSERT_GT(Find(tree, kProbabilityCode, kPrivateScheme), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getNumericValue().getNumericValue(), "0.8731");
  ASSERT_GT(Find(tree, kThresholdCode, kPrivateScheme), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getNumericValue().getNumericValue(), "0.7545");
  ASSERT_GT(Find(tree, kReviewCode, kPrivateScheme), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getCodeValue().getCodeValue(), "373066001");  // Yes
  ASSERT_GT(Find(tree, kReviewReasonCode, kPrivateScheme), 0u);
  EXPECT_NE(tree.getCurrentContentItem().getStringValue().find("near the threshold"),
            OFString_npos);
  ASSERT_GT(Find(tree, "121012", "DCM"), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getStringValue(), DefaultDeviceUid().c_str());
  ASSERT_GT(Find(tree, "111003", "DCM"), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getStringValue(), "2.0.0");
  ASSERT_GT(Find(tree, "121106", "DCM"), 0u);
  EXPECT_NE(tree.getCurrentContentItem().getStringValue().find("NOT FOR DIAGNOSTIC USE"),
            OFString_npos);
  ASSERT_GT(Find(tree, "260753009", "SCT"), 0u);
  EXPECT_EQ(tree.getCurrentContentItem().getImageReference().getSOPInstanceUID(),
            "1.2.826.0.1.3680043.10.1001.1.1");
}

TEST(StructuredReport, GoesIntoTheSourceStudyInANewSeriesWithTheSourceAsEvidence) {
  const auto record = DicomRecord();
  auto sr = MakeStructuredReport(record);
  ASSERT_TRUE(sr) << sr.error().ToString();
  auto file = ParsePart10(sr->bytes);
  ASSERT_TRUE(file);
  DcmDataset& d = *(*file)->getDataset();
  EXPECT_EQ(Text(d, DCM_StudyInstanceUID), record.dicom.study_instance_uid);
  EXPECT_EQ(Text(d, DCM_PatientID), "PAT-42");
  EXPECT_EQ(Text(d, DCM_PatientName), "Müller^Jürgen");
  EXPECT_EQ(Text(d, DCM_SpecificCharacterSet), "ISO_IR 192");
  EXPECT_EQ(Text(d, DCM_AccessionNumber), "ACC-1001");
  EXPECT_EQ(Text(d, DCM_Modality), "SR");
  EXPECT_EQ(Text(d, DCM_SOPClassUID), UID_ComprehensiveSRStorage);
  EXPECT_EQ(Text(d, DCM_SOPInstanceUID), sr->sop_instance_uid);
  EXPECT_NE(Text(d, DCM_SeriesInstanceUID), record.dicom.series_instance_uid);
  EXPECT_EQ(Text(d, DCM_SeriesInstanceUID), sr->series_instance_uid);
  DcmItem* evidence = nullptr;
  ASSERT_TRUE(
      d.findAndGetSequenceItem(DCM_CurrentRequestedProcedureEvidenceSequence, evidence, 0).good());
  EXPECT_EQ(Text(*evidence, DCM_ReferencedSOPInstanceUID), record.dicom.sop_instance_uid);
}

TEST(StructuredReport, IsTheSameInstanceEachTimeAndSaysAbsentForNormal) {
  auto first = MakeStructuredReport(DicomRecord("NORMAL", 0.12));
  auto again = MakeStructuredReport(DicomRecord("NORMAL", 0.12));
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->sop_instance_uid, again->sop_instance_uid);
  EXPECT_EQ(first->bytes, again->bytes);
  EXPECT_TRUE(first->sop_instance_uid.starts_with("2.25."));
  auto file = ParsePart10(first->bytes);
  ASSERT_TRUE(file);
  DSRDocument doc;
  ASSERT_TRUE(doc.read(*(*file)->getDataset()).good());
  ASSERT_GT(Find(doc.getTree(), kPneumoniaCode, "SCT"), 0u);
  EXPECT_EQ(doc.getTree().getCurrentContentItem().getCodeValue().getCodeValue(), kAbsentCode);
}

TEST(StructuredReport, RefusesAPredictionNotMadeFromDicom) {
  auto record = DicomRecord();
  record.dicom = {};
  auto sr = MakeStructuredReport(record);
  ASSERT_FALSE(sr);
  EXPECT_EQ(sr.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(MakeSecondaryCapture(record, testing::HeatmapPng()));
}

TEST(SecondaryCapture, BurnsTheHeatmapAndAnAiLabelIntoAnRgbImageOfTheStudy) {
  const auto record = DicomRecord();
  auto sc = MakeSecondaryCapture(record, testing::HeatmapPng(200, 160));  // enlarged to 512 wide
  ASSERT_TRUE(sc) << sc.error().ToString();
  auto file = ParsePart10(sc->bytes);
  ASSERT_TRUE(file);
  DcmDataset& d = *(*file)->getDataset();
  EXPECT_EQ(Text(d, DCM_SOPClassUID), UID_SecondaryCaptureImageStorage);
  EXPECT_EQ(Text(d, DCM_StudyInstanceUID), record.dicom.study_instance_uid);
  EXPECT_EQ(Text(d, DCM_PatientID), "PAT-42");
  EXPECT_EQ(Text(d, DCM_BurnedInAnnotation), "YES");
  EXPECT_EQ(Text(d, DCM_PhotometricInterpretation), "RGB");
  EXPECT_NE(Text(d, DCM_SeriesDescription).find("not for diagnostic use"), std::string::npos);
  EXPECT_NE(sc->series_instance_uid, MakeStructuredReport(record)->series_instance_uid);
  Uint16 rows = 0, columns = 0;
  d.findAndGetUint16(DCM_Rows, rows);
  d.findAndGetUint16(DCM_Columns, columns);
  EXPECT_EQ(columns, 512);
  EXPECT_EQ(rows, 409 + 51);  // the overlay (160 * 512 / 200) under a banner of an eighth
  const Uint8* pixels = nullptr;
  unsigned long count = 0;
  ASSERT_TRUE(d.findAndGetUint8Array(DCM_PixelData, pixels, &count).good());
  ASSERT_EQ(count, 512ul * 460 * 3);
  // The banner holds yellow text (R and G high, B low) on black; the overlay starts below it.
  int yellow = 0;
  for (int i = 0; i < 512 * 51; ++i)
    if (pixels[3 * i] > 200 && pixels[3 * i + 1] > 200 && pixels[3 * i + 2] < 80) ++yellow;
  EXPECT_GT(yellow, 200);
  const int below = (51 + 100) * 512 + 200;  // inside the overlay: its green channel is 64
  EXPECT_EQ(pixels[3 * below + 1], 64);
}

TEST(SecondaryCapture, RefusesAHeatmapThatIsNoPng) {
  const std::vector<std::uint8_t> junk = {1, 2, 3};
  auto sc = MakeSecondaryCapture(DicomRecord(), junk);
  ASSERT_FALSE(sc);
  EXPECT_EQ(sc.error().code, ErrorCode::kCorruptInput);
}

TEST(DerivedUid, IsStableValidAndDistinct) {
  EXPECT_EQ(DerivedUid("a"), DerivedUid("a"));
  EXPECT_NE(DerivedUid("a"), DerivedUid("b"));
  const std::string uid = DerivedUid("pneumo");
  EXPECT_LE(uid.size(), 64u);
  EXPECT_TRUE(uid.starts_with("2.25."));
  EXPECT_NE(uid[5], '0');
}

}  // namespace
}  // namespace pneumo::dicom
