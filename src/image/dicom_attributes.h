// The header attributes of a DICOM instance that say what it is and where it belongs, read without
// decoding any pixels.
//
//   Result<DicomAttributes> a = ReadDicomAttributes(bytes);   // a Part 10 file
//   if (a && a->modality == "DX") ...
//
// The patient attributes are health data: callers keep them only to write results into the same
// patient and study, and never log them.
// Thread-safe: a pure function of its input (DCMTK's dictionary is loaded once, by DCMTK).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/error.h"

class DcmFileFormat;  // DCMTK
class DcmItem;

namespace pneumo::image {

struct DicomAttributes {
  std::string sop_class_uid, sop_instance_uid, study_instance_uid, series_instance_uid;
  std::string accession_number, modality, body_part_examined, view_position;
  std::string photometric_interpretation;
  std::string patient_id, patient_name, patient_birth_date, patient_sex;
  std::string study_date, study_time, study_id, referring_physician;
  std::string transfer_syntax_uid;  // from the file meta information; empty when none
  bool has_pixel_data = false;
  int samples_per_pixel = 0, bits_allocated = 0;  // 0 when absent
  bool operator==(const DicomAttributes&) const = default;
};

// kEmptyInput, kCorruptInput (not DICOM, truncated), kInternal (no data dictionary).
Result<DicomAttributes> ReadDicomAttributes(std::span<const std::uint8_t> bytes);

// The same, from a file DCMTK has already parsed (the pixel decoder's, so that an upload is parsed
// once): the dataset's attributes plus the meta information's transfer syntax. Converts the
// dataset's strings to UTF-8 in place first, so anything that reads the dataset as it was
// (rendering the pixels) must come before. kCorruptInput when DCMTK throws.
Result<DicomAttributes> DicomAttributesOfFile(DcmFileFormat& file);

// The same, from a dataset DCMTK already holds (e.g. one received over the network).
DicomAttributes DicomAttributesOf(DcmItem& dataset);

}  // namespace pneumo::image
