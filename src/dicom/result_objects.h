// The DICOM objects pneumo sends back to the PACS for one prediction, in the study of the source
// image and in new series of their own (IHE AI Results in spirit):
//   - a Comprehensive SR with the coded finding (SNOMED CT 233604007 Pneumonia, present/absent),
//     the calibrated probability, the threshold, the review flag and reasons, the algorithm name
//     and version, pneumo as the observer device (stable Device Observer UID), VerificationFlag
//     UNVERIFIED, a "not for diagnostic use" caution, and a reference to the source instance;
//   - a Secondary Capture of the Grad-CAM overlay with a burned-in banner labelling it AI output.
//
//   auto sr = MakeStructuredReport(record, options);          // record.dicom must be filled
//   auto sc = MakeSecondaryCapture(record, heatmap_png, options);
//   if (sr) Send(sr->bytes);
//
// UIDs are derived from the prediction id, so building the same result twice gives the same
// instance (a re-send replaces rather than duplicates it on the PACS).
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/prediction_record.h"

namespace pneumo::dicom {

// Codes the SR uses; public so tests and readers agree with the writer.
inline constexpr char kPneumoniaCode[] = "233604007";  // SNOMED CT "Pneumonia"
inline constexpr char kPresentCode[] = "52101004";     // SNOMED CT "Present"
inline constexpr char kAbsentCode[] = "2667000";       // SNOMED CT "Absent"
inline constexpr char kPrivateScheme[] = "99PNEUMO";   // pneumo's private coding scheme
inline constexpr char kProbabilityCode[] = "PNEUMO-PROB";
inline constexpr char kThresholdCode[] = "PNEUMO-THRESHOLD";
inline constexpr char kReviewCode[] = "PNEUMO-REVIEW";
inline constexpr char kReviewReasonCode[] = "PNEUMO-REVIEW-REASON";
inline constexpr char kCaution[] =
    "NOT FOR DIAGNOSTIC USE. Output of an AI decision-support algorithm, not verified by a "
    "physician; a radiologist must read the image.";

struct ResultObjectOptions {
  // The Device Observer UID naming this pneumo installation; default derived from "pneumo".
  std::string device_uid;
  std::string device_name = "pneumo";   // Device Observer Name
  std::string manufacturer = "pneumo";  // Manufacturer and Device Observer Manufacturer
  std::string software_version;         // SoftwareVersions; default: the model's version
};

struct ResultObject {
  std::vector<std::uint8_t> bytes;  // a Part 10 file, Explicit VR Little Endian
  std::string sop_class_uid, sop_instance_uid, series_instance_uid;
};

// The default Device Observer UID (DerivedUid("pneumo observer device")).
std::string DefaultDeviceUid();

// kInvalidArgument when the record did not come from DICOM (no study to put the result in).
Result<ResultObject> MakeStructuredReport(const store::PredictionRecord& record,
                                          const ResultObjectOptions& options = {});

// `heatmap_png` is PredictionService::Heatmap's overlay. kInvalidArgument as above, kCorruptInput
// when the PNG cannot be decoded.
Result<ResultObject> MakeSecondaryCapture(const store::PredictionRecord& record,
                                          std::span<const std::uint8_t> heatmap_png,
                                          const ResultObjectOptions& options = {});

}  // namespace pneumo::dicom
