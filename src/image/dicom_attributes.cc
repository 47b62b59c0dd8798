#include "image/dicom_attributes.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>

#include <exception>

#include "image/dicom_file.h"

namespace pneumo::image {
namespace {

std::string Value(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  // Whole value (all components of a multi-valued element), leading/trailing spaces removed.
  if (item.findAndGetOFStringArray(tag, value).bad()) return "";
  std::string text(value.c_str(), value.length());
  const auto first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

}  // namespace

DicomAttributes DicomAttributesOf(DcmItem& d) {
  DicomAttributes a;
  a.sop_class_uid = Value(d, DCM_SOPClassUID);
  a.sop_instance_uid = Value(d, DCM_SOPInstanceUID);
  a.study_instance_uid = Value(d, DCM_StudyInstanceUID);
  a.series_instance_uid = Value(d, DCM_SeriesInstanceUID);
  a.accession_number = Value(d, DCM_AccessionNumber);
  a.modality = Value(d, DCM_Modality);
  a.body_part_examined = Value(d, DCM_BodyPartExamined);
  a.view_position = Value(d, DCM_ViewPosition);
  a.photometric_interpretation = Value(d, DCM_PhotometricInterpretation);
  a.patient_id = Value(d, DCM_PatientID);
  a.patient_name = Value(d, DCM_PatientName);
  a.patient_birth_date = Value(d, DCM_PatientBirthDate);
  a.patient_sex = Value(d, DCM_PatientSex);
  a.study_date = Value(d, DCM_StudyDate);
  a.study_time = Value(d, DCM_StudyTime);
  a.study_id = Value(d, DCM_StudyID);
  a.referring_physician = Value(d, DCM_ReferringPhysicianName);
  a.has_pixel_data = d.tagExists(DCM_PixelData);
  Uint16 value = 0;
  if (d.findAndGetUint16(DCM_SamplesPerPixel, value).good()) a.samples_per_pixel = value;
  if (d.findAndGetUint16(DCM_BitsAllocated, value).good()) a.bits_allocated = value;
  return a;
}

Result<DicomAttributes> DicomAttributesOfFile(DcmFileFormat& file) {
  try {
    // Names may come in Latin-1 or another character set; results are written as UTF-8. Where
    // DCMTK has no converter for the set, the bytes are kept as they are.
    OFString charset;
    if (file.getDataset()->findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good() &&
        !charset.empty() && charset != "ISO_IR 192") {
      (void)file.getDataset()->convertToUTF8();
    }
    DicomAttributes a = DicomAttributesOf(*file.getDataset());
    OFString syntax;
    if (file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax).good())
      a.transfer_syntax_uid = syntax.c_str();
    return a;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCorruptInput, std::string("DICOM file cannot be read: ") + e.what());
  }
}

Result<DicomAttributes> ReadDicomAttributes(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return Fail(ErrorCode::kEmptyInput, "the DICOM file is empty (0 bytes)");
  auto read = ReadDicomFile(bytes, "DICOM file");
  if (!read) return std::unexpected(read.error());
  return DicomAttributesOfFile(**read);
}

}  // namespace pneumo::image
