// What the server keeps for every prediction, and one page of them for the history view.
//
//   PredictionRecord r{.id = "7f3c...", .filename = "chest.png", .label = "PNEUMONIA"};
//   r.probability = 0.93; r.created_at_ms = NowMs(); r.preview_jpeg = EncodeJpeg(preview);
//   store->Put(r);
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pneumo::store {

// Where a DICOM input came from, so that results can go back into the same study on the PACS.
// All empty for a JPEG/PNG upload. The patient and study attributes are health data: they are kept
// only to write the result objects (SR, Secondary Capture) into the right patient and study, and
// must never be logged.
struct DicomIdentifiers {
  std::string study_instance_uid;   // (0020,000D)
  std::string series_instance_uid;  // (0020,000E)
  std::string sop_instance_uid;     // (0008,0018)
  std::string sop_class_uid;        // (0008,0016)
  std::string accession_number;     // (0008,0050); the history can be filtered by it
  std::string modality;             // (0008,0060)
  std::string patient_id;           // (0010,0020)
  std::string patient_name;         // (0010,0010)
  std::string patient_birth_date;   // (0010,0030)
  std::string patient_sex;          // (0010,0040)
  std::string study_date;           // (0008,0020)
  std::string study_time;           // (0008,0030)
  std::string study_id;             // (0020,0010)
  std::string referring_physician;  // (0008,0090)
  bool empty() const { return sop_instance_uid.empty() && study_instance_uid.empty(); }
  bool operator==(const DicomIdentifiers&) const = default;
};

// Every DicomIdentifiers field with the column / hash field name both stores use for it, so that a
// new field is one line here (and a migration adds its column to existing SQLite files).
inline constexpr std::array<std::pair<const char*, std::string DicomIdentifiers::*>, 14>
    kDicomFields{{{"dicom_study_uid", &DicomIdentifiers::study_instance_uid},
                  {"dicom_series_uid", &DicomIdentifiers::series_instance_uid},
                  {"dicom_sop_instance_uid", &DicomIdentifiers::sop_instance_uid},
                  {"dicom_sop_class_uid", &DicomIdentifiers::sop_class_uid},
                  {"dicom_accession_number", &DicomIdentifiers::accession_number},
                  {"dicom_modality", &DicomIdentifiers::modality},
                  {"dicom_patient_id", &DicomIdentifiers::patient_id},
                  {"dicom_patient_name", &DicomIdentifiers::patient_name},
                  {"dicom_patient_birth_date", &DicomIdentifiers::patient_birth_date},
                  {"dicom_patient_sex", &DicomIdentifiers::patient_sex},
                  {"dicom_study_date", &DicomIdentifiers::study_date},
                  {"dicom_study_time", &DicomIdentifiers::study_time},
                  {"dicom_study_id", &DicomIdentifiers::study_id},
                  {"dicom_referring_physician", &DicomIdentifiers::referring_physician}}};

struct PredictionRecord {
  std::string id;          // unique, non-empty; chosen by the caller (e.g. a UUID)
  std::string filename;    // name the file was uploaded under
  std::string label;       // "PNEUMONIA" or "NORMAL"
  double probability = 0;  // model's P(pneumonia), 0..1
  double threshold = 0;    // decision threshold used for `label`
  bool review = false;     // true when the probability is close enough to call for a human
  std::string model_name, model_version;
  std::string sha256;      // lowercase hex digest of the uploaded bytes
  std::string created_at;  // ISO-8601 UTC with milliseconds, e.g. "2026-11-26T13:56:51.123Z"
  std::int64_t created_at_ms = 0;  // Unix milliseconds; the ordering key (newest first)
  double decode_ms = 0, queue_ms = 0, inference_ms = 0;  // stage timings in milliseconds
  // Everything else worth keeping (review reasons, source image format and size), as a JSON
  // object's text, so new details need no schema change. Stores keep it verbatim.
  std::string details_json = "{}";
  std::vector<std::uint8_t> preview_jpeg;  // small JPEG preview shown with the result
  // The name of the user who uploaded it: a doctor sees only their own (ResultStore::ListOwnedBy).
  // "" for records made without accounts (before they existed, or by `pneumo predict --store`);
  // those are listed to admins only.
  std::string owner;
  DicomIdentifiers dicom;  // empty unless the input was DICOM
};

// One page of the history, newest first. `items` carry no preview (fetch it with GetPreview).
struct PredictionPage {
  std::vector<PredictionRecord> items;  // preview_jpeg left empty
  std::int64_t total = 0;               // number of records in the whole store
  int page = 1;                         // 1-based
  int per_page = 20;
};

// Which page of the history to list, and optionally only the records of one accession number.
struct ListQuery {
  int page = 1;                  // 1-based
  int per_page = 20;             // 1..ResultStore::kMaxPerPage
  std::string accession_number;  // empty: every record; else exact match on dicom.accession_number
  std::string owner;             // empty: every owner; else exact match on PredictionRecord::owner
};

// One DICOM instance that reached pneumo (C-STORE or STOW-RS), whatever became of it: the log that
// shows a PACS administrator why an instance has no prediction. No patient attributes.
struct ReceivedInstance {
  std::int64_t received_at_ms = 0;  // Unix milliseconds; newest first
  std::string received_at;          // ISO-8601 UTC with milliseconds
  std::string source;               // how it came: "c-store from <calling AE>" or "stow-rs"
  std::string study_instance_uid, series_instance_uid, sop_instance_uid, sop_class_uid;
  std::string accession_number, modality;
  std::string outcome;        // "predicted", "not_eligible" or "failed"
  std::string reason;         // why not eligible or why it failed; empty when predicted
  std::string prediction_id;  // set when predicted
  bool operator==(const ReceivedInstance&) const = default;
};

}  // namespace pneumo::store
