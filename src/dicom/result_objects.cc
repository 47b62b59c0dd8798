#include "dicom/result_objects.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dicom/part10.h"

namespace pneumo::dicom {
namespace {

Result<void> Check(const OFCondition& condition, const std::string& what) {
  if (condition.good()) return {};
  return Fail(ErrorCode::kInternal,
              "cannot build the result object (" + what + "): " + condition.text());
}

Result<void> RequireDicom(const store::PredictionRecord& record) {
  if (record.dicom.study_instance_uid.empty() || record.dicom.sop_instance_uid.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "prediction '" + record.id +
                    "' was not made from a DICOM instance, so there is no study to put a DICOM "
                    "result into");
  }
  return {};
}

// DICOM DA and TM of a Unix time in UTC (the stored time; TimezoneOffsetFromUTC says so).
std::pair<std::string, std::string> DateTimeUtc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char date[16], time[32];
  std::strftime(date, sizeof date, "%Y%m%d", &utc);
  std::snprintf(time, sizeof time, "%02d%02d%02d.%03d", utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return {date, time};
}

std::vector<std::string> ReviewReasons(const store::PredictionRecord& record) {
  const auto details = nlohmann::json::parse(record.details_json, nullptr, false);
  std::vector<std::string> reasons;
  if (details.is_object() && details.contains("review_reasons") &&
      details["review_reasons"].is_array()) {
    for (const auto& r : details["review_reasons"])
      if (r.is_string()) reasons.push_back(r.get<std::string>());
  }
  return reasons;
}

std::string Fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// The patient and study modules of the source, so the PACS files the result with it.
Result<void> PutPatientAndStudy(DcmItem& d, const store::DicomIdentifiers& id) {
  const std::pair<DcmTagKey, const std::string*> values[] = {
      {DCM_PatientID, &id.patient_id},
      {DCM_PatientName, &id.patient_name},
      {DCM_PatientBirthDate, &id.patient_birth_date},
      {DCM_PatientSex, &id.patient_sex},
      {DCM_StudyInstanceUID, &id.study_instance_uid},
      {DCM_StudyDate, &id.study_date},
      {DCM_StudyTime, &id.study_time},
      {DCM_StudyID, &id.study_id},
      {DCM_AccessionNumber, &id.accession_number},
      {DCM_ReferringPhysicianName, &id.referring_physician}};
  for (const auto& [tag, value] : values) {
    if (auto ok = Check(d.putAndInsertString(tag, value->c_str()), "patient and study"); !ok)
      return ok;
  }
  return {};
}

}  // namespace

std::string DefaultDeviceUid() { return DerivedUid("pneumo observer device"); }

Result<ResultObject> MakeStructuredReport(const store::PredictionRecord& record,
                                          const ResultObjectOptions& options) {
  if (auto ok = RequireDicom(record); !ok) return std::unexpected(ok.error());
  const store::DicomIdentifiers& source = record.dicom;
  const std::string device_uid =
      options.device_uid.empty() ? DefaultDeviceUid() : options.device_uid;
  const bool present = record.label == "PNEUMONIA";
  const auto [date, time] = DateTimeUtc(record.created_at_ms);
  try {
    DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
    DSRDocumentTree& tree = doc.getTree();
    Result<void> ok;
    auto step = [&](const OFCondition& c, const char* what) {
      if (ok) ok = Check(c, what);
    };
    auto concept_of = [](const char* code, const char* scheme, const char* meaning) {
      return DSRCodedEntryValue(code, scheme, meaning);
    };
    if (tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container) == 0)
      return Fail(ErrorCode::kInternal, "cannot build the SR: no root container");
    step(tree.getCurrentContentItem().setConceptName(
             concept_of("126000", "DCM", "Imaging Measurement Report")),
         "root");
    // Observation context: the device that made the observation (TID 1004).
    step(tree.addChildContentItem(
             DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code,
             concept_of("121049", "DCM", "Language of Content Item and Descendants")),
         "language");
    step(tree.getCurrentContentItem().setCodeValue(
             concept_of("en-US", "RFC5646", "English (United States)")),
         "language");
    step(tree.addContentItem(DSRTypes::RT_hasObsContext, DSRTypes::VT_Code,
                             concept_of("121005", "DCM", "Observer Type")),
         "observer type");
    step(tree.getCurrentContentItem().setCodeValue(concept_of("121007", "DCM", "Device")),
         "observer type");
    step(tree.addContentItem(DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef,
                             concept_of("121012", "DCM", "Device Observer UID")),
         "device uid");
    step(tree.getCurrentContentItem().setStringValue(device_uid.c_str()), "device uid");
    for (const auto& [code, meaning, value] :
         {std::tuple{"121013", "Device Observer Name", options.device_name},
          std::tuple{"121014", "Device Observer Manufacturer", options.manufacturer},
          std::tuple{"121015", "Device Observer Model Name", record.model_name}}) {
      step(tree.addContentItem(DSRTypes::RT_hasObsContext, DSRTypes::VT_Text,
                               concept_of(code, "DCM", meaning)),
           meaning);
      step(tree.getCurrentContentItem().setStringValue(value.c_str()), meaning);
    }
    // The image the finding is about.
    step(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Image,
                             concept_of("260753009", "SCT", "Source")),
         "source image");
    step(tree.getCurrentContentItem().setImageReference(
             DSRImageReferenceValue(source.sop_class_uid.c_str(), source.sop_instance_uid.c_str())),
         "source image");
    // The finding and what it rests on.
    step(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Code,
                             concept_of(kPneumoniaCode, "SCT", "Pneumonia")),
         "finding");
    step(tree.getCurrentContentItem().setCodeValue(present
                                                       ? concept_of(kPresentCode, "SCT", "Present")
                                                       : concept_of(kAbsentCode, "SCT", "Absent")),
         "finding");
    step(tree.addChildContentItem(
             DSRTypes::RT_hasProperties, DSRTypes::VT_Num,
             concept_of(kProbabilityCode, kPrivateScheme, "Calibrated probability of pneumonia")),
         "probability");
    step(tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(
             Fixed(record.probability, 4).c_str(), concept_of("1", "UCUM", "no units"))),
         "probability");
    step(tree.addContentItem(DSRTypes::RT_hasProperties, DSRTypes::VT_Num,
                             concept_of(kThresholdCode, kPrivateScheme, "Decision threshold")),
         "threshold");
    step(tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(
             Fixed(record.threshold, 4).c_str(), concept_of("1", "UCUM", "no units"))),
         "threshold");
    for (const auto& [code, meaning, value] :
         {std::tuple{"111001", "Algorithm Name", record.model_name},
          std::tuple{"111003", "Algorithm Version", record.model_version}}) {
      step(tree.addContentItem(DSRTypes::RT_hasProperties, DSRTypes::VT_Text,
                               concept_of(code, "DCM", meaning)),
           meaning);
      step(tree.getCurrentContentItem().setStringValue(value.c_str()), meaning);
    }
    step(tree.addContentItem(DSRTypes::RT_hasProperties, DSRTypes::VT_Code,
                             concept_of(kReviewCode, kPrivateScheme, "Human review recommended")),
         "review");
    step(tree.getCurrentContentItem().setCodeValue(record.review
                                                       ? concept_of("373066001", "SCT", "Yes")
                                                       : concept_of("373067005", "SCT", "No")),
         "review");
    for (const std::string& reason : ReviewReasons(record)) {
      step(tree.addContentItem(DSRTypes::RT_hasProperties, DSRTypes::VT_Text,
                               concept_of(kReviewReasonCode, kPrivateScheme, "Review reason")),
           "review reason");
      step(tree.getCurrentContentItem().setStringValue(reason.c_str(), /*check=*/OFFalse),
           "review reason");
    }
    tree.goUp();  // back to the finding's level
    step(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text,
                             concept_of("121106", "DCM", "Comment")),
         "caution");
    step(tree.getCurrentContentItem().setStringValue(kCaution), "caution");
    if (!ok) return std::unexpected(ok.error());

    step(doc.setSpecificCharacterSet("ISO_IR 192"), "character set");
    step(doc.createNewSeriesInStudy(source.study_instance_uid.c_str()), "series");
    step(doc.setPatientID(source.patient_id.c_str(), OFFalse), "patient");
    step(doc.setPatientName(source.patient_name.c_str(), OFFalse), "patient");
    step(doc.setPatientBirthDate(source.patient_birth_date.c_str(), OFFalse), "patient");
    step(doc.setPatientSex(source.patient_sex.c_str(), OFFalse), "patient");
    step(doc.setStudyDate(source.study_date.c_str(), OFFalse), "study");
    step(doc.setStudyTime(source.study_time.c_str(), OFFalse), "study");
    step(doc.setStudyID(source.study_id.c_str(), OFFalse), "study");
    step(doc.setAccessionNumber(source.accession_number.c_str(), OFFalse), "study");
    step(doc.setReferringPhysicianName(source.referring_physician.c_str(), OFFalse), "study");
    step(doc.setSeriesDescription("pneumo AI result - not for diagnostic use"), "series");
    step(doc.setSeriesNumber("9901"), "series");
    step(doc.setInstanceNumber("1"), "instance");
    step(doc.setManufacturer(options.manufacturer.c_str()), "equipment");
    step(doc.setManufacturerModelName(record.model_name.c_str(), OFFalse), "equipment");
    step(doc.setSoftwareVersions(
             (options.software_version.empty() ? record.model_version : options.software_version)
                 .c_str(),
             OFFalse),
         "equipment");
    step(doc.setContentDate(date.c_str()), "content date");
    step(doc.setContentTime(time.c_str()), "content time");
    step(doc.setTimezoneOffsetFromUTC("+0000"), "time zone");
    step(doc.getCurrentRequestedProcedureEvidence().addItem(
             source.study_instance_uid.c_str(), source.series_instance_uid.c_str(),
             source.sop_class_uid.c_str(), source.sop_instance_uid.c_str(), OFFalse),
         "evidence");
    if (!ok) return std::unexpected(ok.error());

    DcmDataset dataset;
    if (auto written = Check(doc.write(dataset), "writing the SR"); !written)
      return std::unexpected(written.error());
    ResultObject object;
    object.sop_class_uid = UID_ComprehensiveSRStorage;
    object.series_instance_uid = DerivedUid("pneumo sr series " + record.id);
    object.sop_instance_uid = DerivedUid("pneumo sr instance " + record.id);
    step(dataset.putAndInsertString(DCM_SeriesInstanceUID, object.series_instance_uid.c_str()),
         "series uid");
    step(dataset.putAndInsertString(DCM_SOPInstanceUID, object.sop_instance_uid.c_str()),
         "instance uid");
    // Instance creation is the prediction's time, not this call's: the same SR every time.
    step(dataset.putAndInsertString(DCM_InstanceCreationDate, date.c_str()), "creation date");
    step(dataset.putAndInsertString(DCM_InstanceCreationTime, time.c_str()), "creation time");
    step(dataset.putAndInsertString(DCM_SeriesDate, date.c_str()), "series date");
    step(dataset.putAndInsertString(DCM_SeriesTime, time.c_str()), "series time");
    if (!ok) return std::unexpected(ok.error());
    auto bytes = WritePart10(dataset, EXS_LittleEndianExplicit);
    if (!bytes) return std::unexpected(bytes.error());
    object.bytes = std::move(*bytes);
    return object;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal, std::string("cannot build the SR: ") + e.what());
  }
}

Result<ResultObject> MakeSecondaryCapture(const store::PredictionRecord& record,
                                          std::span<const std::uint8_t> heatmap_png,
                                          const ResultObjectOptions& options) {
  if (auto ok = RequireDicom(record); !ok) return std::unexpected(ok.error());
  cv::Mat overlay;
  try {
    const cv::Mat encoded(1, static_cast<int>(heatmap_png.size()), CV_8UC1,
                          const_cast<std::uint8_t*>(heatmap_png.data()));
    if (!heatmap_png.empty()) overlay = cv::imdecode(encoded, cv::IMREAD_COLOR);
  } catch (const std::exception&) {
    overlay.release();
  }
  if (overlay.empty())
    return Fail(ErrorCode::kCorruptInput, "the heatmap overlay is not a readable PNG");

  // Previews are small (at most 384 px a side): enlarged so the banner's text stays legible.
  if (overlay.cols < 512) {
    cv::resize(overlay, overlay, {512, std::max(1, overlay.rows * 512 / overlay.cols)}, 0, 0,
               cv::INTER_LINEAR);
  }
  // The banner is part of the pixels (burned in), so no viewer can show the overlay without it.
  const int banner = std::max(48, overlay.rows / 8);
  cv::Mat image(overlay.rows + banner, overlay.cols, CV_8UC3, cv::Scalar(0, 0, 0));
  overlay.copyTo(image(cv::Rect(0, banner, overlay.cols, overlay.rows)));
  const std::string verdict = std::string(record.label == "PNEUMONIA" ? "Pneumonia" : "Normal") +
                              "  p=" + Fixed(record.probability, 2) + " (threshold " +
                              Fixed(record.threshold, 2) + ")  " + record.model_name + " " +
                              record.model_version;
  // Each line at the largest scale that fits the width and half the banner.
  auto put_line = [&](const std::string& text, int baseline, const cv::Scalar& colour) {
    double scale = 2.0;
    int thickness = 2, base = 0;
    for (;; scale *= 0.9) {
      thickness = std::max(1, static_cast<int>(scale * 1.5));
      const cv::Size size =
          cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &base);
      if ((size.width <= image.cols - 16 && size.height + base <= banner / 2 - 4) || scale < 0.2)
        break;
    }
    cv::putText(image, text, {8, baseline}, cv::FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                cv::LINE_AA);
  };
  put_line("AI OUTPUT - NOT FOR DIAGNOSTIC USE", banner / 2 - 6, cv::Scalar(0, 255, 255));
  put_line(verdict, banner - 8, cv::Scalar(255, 255, 255));
  cv::Mat rgb;
  cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB);

  const store::DicomIdentifiers& source = record.dicom;
  const auto [date, time] = DateTimeUtc(record.created_at_ms);
  ResultObject object;
  object.sop_class_uid = UID_SecondaryCaptureImageStorage;
  object.series_instance_uid = DerivedUid("pneumo sc series " + record.id);
  object.sop_instance_uid = DerivedUid("pneumo sc instance " + record.id);
  try {
    DcmDataset d;
    if (auto ok = PutPatientAndStudy(d, source); !ok) return std::unexpected(ok.error());
    const std::string software =
        options.software_version.empty() ? record.model_version : options.software_version;
    const std::pair<DcmTagKey, std::string> values[] = {
        {DCM_SpecificCharacterSet, "ISO_IR 192"},
        {DCM_SOPClassUID, object.sop_class_uid},
        {DCM_SOPInstanceUID, object.sop_instance_uid},
        {DCM_SeriesInstanceUID, object.series_instance_uid},
        {DCM_Modality, "OT"},
        {DCM_SeriesNumber, "9902"},
        {DCM_InstanceNumber, "1"},
        {DCM_SeriesDescription, "pneumo AI heatmap - not for diagnostic use"},
        {DCM_ImageType, "DERIVED\\SECONDARY"},
        {DCM_ConversionType, "WSD"},
        {DCM_BurnedInAnnotation, "YES"},
        {DCM_LossyImageCompression, "01"},  // drawn from the stored JPEG preview
        {DCM_DerivationDescription,
         "Grad-CAM heatmap of an AI pneumonia classifier over the source image; " +
             std::string(kCaution)},
        {DCM_Manufacturer, options.manufacturer},
        {DCM_ManufacturerModelName, record.model_name},
        {DCM_SoftwareVersions, software},
        {DCM_ContentDate, date},
        {DCM_ContentTime, time},
        {DCM_InstanceCreationDate, date},
        {DCM_InstanceCreationTime, time},
        {DCM_PatientOrientation, ""},
        {DCM_PhotometricInterpretation, "RGB"}};
    for (const auto& [tag, value] : values) {
      if (auto ok = Check(d.putAndInsertString(tag, value.c_str()), "secondary capture"); !ok)
        return std::unexpected(ok.error());
    }
    const std::pair<DcmTagKey, Uint16> numbers[] = {{DCM_SamplesPerPixel, 3},
                                                    {DCM_PlanarConfiguration, 0},
                                                    {DCM_Rows, static_cast<Uint16>(rgb.rows)},
                                                    {DCM_Columns, static_cast<Uint16>(rgb.cols)},
                                                    {DCM_BitsAllocated, 8},
                                                    {DCM_BitsStored, 8},
                                                    {DCM_HighBit, 7},
                                                    {DCM_PixelRepresentation, 0}};
    for (const auto& [tag, value] : numbers) {
      if (auto ok = Check(d.putAndInsertUint16(tag, value), "secondary capture"); !ok)
        return std::unexpected(ok.error());
    }
    DcmItem* source_item = nullptr;
    if (auto ok = Check(d.findOrCreateSequenceItem(DCM_SourceImageSequence, source_item, 0),
                        "source image reference");
        !ok)
      return std::unexpected(ok.error());
    source_item->putAndInsertString(DCM_ReferencedSOPClassUID, source.sop_class_uid.c_str());
    source_item->putAndInsertString(DCM_ReferencedSOPInstanceUID, source.sop_instance_uid.c_str());
    const cv::Mat pixels = rgb.isContinuous() ? rgb : rgb.clone();
    if (auto ok = Check(d.putAndInsertUint8Array(DCM_PixelData, pixels.data,
                                                 static_cast<unsigned long>(pixels.total() * 3)),
                        "pixel data");
        !ok)
      return std::unexpected(ok.error());
    auto bytes = WritePart10(d, EXS_LittleEndianExplicit);
    if (!bytes) return std::unexpected(bytes.error());
    object.bytes = std::move(*bytes);
    return object;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal,
                std::string("cannot build the secondary capture: ") + e.what());
  }
}

}  // namespace pneumo::dicom
