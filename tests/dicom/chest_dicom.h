// DICOM instances for the dicom tests, made with DCMTK the way a DX modality writes them: Digital
// X-Ray Image Storage - For Presentation, MONOCHROME2, 8 bits, uncompressed.
//
//   auto bytes = MakeChestDicom(RealOrSyntheticChest(), {.accession = "A1"});
//   auto ct = MakeChestDicom(image, {.modality = "CT", .sop_class = UID_CTImageStorage});
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <cstdint>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "dicom/part10.h"
#include "testing/synthetic_xrays.h"

namespace pneumo::dicom::testing {

struct ChestDicomOptions {
  std::string modality = "DX";
  std::string body_part = "CHEST";
  std::string view = "PA";
  std::string sop_class = UID_DigitalXRayImageStorageForPresentation;
  std::string study_uid = "1.2.826.0.1.3680043.10.1001";
  std::string series_uid = "1.2.826.0.1.3680043.10.1001.1";
  std::string sop_uid = "1.2.826.0.1.3680043.10.1001.1.1";
  std::string accession = "ACC-1001";
  std::string patient_id = "PAT-42";
  std::string patient_name = "Test^Patient";
  std::string photometric = "MONOCHROME2";
};

// A real training image when ../shared/data is there, else a synthetic chest; `source` says which.
inline cv::Mat RealOrSyntheticChest(std::string* source = nullptr, bool pneumonia = true) {
  const std::filesystem::path dir = std::filesystem::path(PNEUMO_SHARED_DATA_DIR) / "train" /
                                    (pneumonia ? "PNEUMONIA" : "NORMAL");
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      cv::Mat gray = cv::imread(entry.path().string(), cv::IMREAD_GRAYSCALE);
      if (gray.empty()) continue;
      if (source) *source = "training image " + entry.path().filename().string();
      if (gray.cols > 1024) cv::resize(gray, gray, {1024, gray.rows * 1024 / gray.cols});
      return gray;
    }
  }
  if (source) *source = "synthetic chest (../shared/data/chest_xray is absent)";
  std::mt19937 rng(7);
  return pneumo::testing::SyntheticXray(pneumonia, rng, 256);
}

inline std::vector<std::uint8_t> MakeChestDicom(const cv::Mat& gray8,
                                                const ChestDicomOptions& o = {}) {
  DcmDataset d;
  const std::pair<DcmTagKey, std::string> values[] = {
      {DCM_SOPClassUID, o.sop_class},
      {DCM_SOPInstanceUID, o.sop_uid},
      {DCM_StudyInstanceUID, o.study_uid},
      {DCM_SeriesInstanceUID, o.series_uid},
      {DCM_Modality, o.modality},
      {DCM_BodyPartExamined, o.body_part},
      {DCM_ViewPosition, o.view},
      {DCM_AccessionNumber, o.accession},
      {DCM_PatientID, o.patient_id},
      {DCM_PatientName, o.patient_name},
      {DCM_PatientBirthDate, "19700101"},
      {DCM_PatientSex, "F"},
      {DCM_StudyDate, "20261201"},
      {DCM_StudyTime, "101500"},
      {DCM_StudyID, "1"},
      {DCM_SeriesNumber, "1"},
      {DCM_InstanceNumber, "1"},
      {DCM_PhotometricInterpretation, o.photometric},
      {DCM_ImageType, "ORIGINAL\\PRIMARY"},
      {DCM_PresentationIntentType, "FOR PRESENTATION"}};
  for (const auto& [tag, value] : values) {
    if (!value.empty()) d.putAndInsertString(tag, value.c_str());
  }
  d.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(gray8.rows));
  d.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(gray8.cols));
  d.putAndInsertUint16(DCM_BitsAllocated, 8);
  d.putAndInsertUint16(DCM_BitsStored, 8);
  d.putAndInsertUint16(DCM_HighBit, 7);
  d.putAndInsertUint16(DCM_PixelRepresentation, 0);
  const cv::Mat pixels = gray8.isContinuous() ? gray8 : gray8.clone();
  d.putAndInsertUint8Array(DCM_PixelData, pixels.data, static_cast<unsigned long>(pixels.total()));
  auto bytes = WritePart10(d, EXS_LittleEndianExplicit);
  return bytes ? *bytes : std::vector<std::uint8_t>{};
}

// A PNG like PredictionService::Heatmap's (a colour gradient), for the Secondary Capture.
inline std::vector<std::uint8_t> HeatmapPng(int width = 200, int height = 160) {
  cv::Mat bgr(height, width, CV_8UC3);
  for (int r = 0; r < height; ++r)
    for (int c = 0; c < width; ++c)
      bgr.at<cv::Vec3b>(r, c) = {static_cast<uchar>(c), 64, static_cast<uchar>(r)};
  std::vector<std::uint8_t> png;
  cv::imencode(".png", bgr, png);
  return png;
}

}  // namespace pneumo::dicom::testing
