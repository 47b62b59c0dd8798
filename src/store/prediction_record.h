// What the server keeps for every prediction, and one page of them for the history view.
//
//   PredictionRecord r{.id = "7f3c...", .filename = "chest.png", .label = "PNEUMONIA"};
//   r.probability = 0.93; r.created_at_ms = NowMs(); r.preview_jpeg = EncodeJpeg(preview);
//   store->Put(r);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pneumo::store {

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
};

// One page of the history, newest first. `items` carry no preview (fetch it with GetPreview).
struct PredictionPage {
  std::vector<PredictionRecord> items;  // preview_jpeg left empty
  std::int64_t total = 0;               // number of records in the whole store
  int page = 1;                         // 1-based
  int per_page = 20;
};

}  // namespace pneumo::store
