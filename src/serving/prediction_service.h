// What happens to one upload, independent of HTTP: decode, batch into the model, judge whether a
// human should look again, keep it in the store; and heatmaps for stored predictions.
//
//   auto service = PredictionService::Create(std::move(predictor), std::move(explainer),
//                                            std::move(store), options, registry);
//   Result<store::PredictionRecord> r = (*service)->Predict(bytes, "chest.jpeg");
//   if (!r && r.error().code == ErrorCode::kBusy) ...   // the HTTP layer answers 503 + Retry-After
//
// The model can be replaced while serving (ReplaceModel): each batch runs on whichever model is
// current when it starts, and each record names the model that computed it.
//
// Thread-safe: Predict, Heatmap, card and ReplaceModel are called by many threads at once.
// Decoding, preview and hashing run on the calling thread (so uploads decode in parallel); only the
// forward pass is funnelled through the Batcher's single worker. Heatmaps run on a second copy of
// the model with one thread, one at a time, so they cannot starve the prediction path of both
// cores.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <list>
#include <memory>
#include <mutex>
#include <semaphore>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "image/decode.h"
#include "infer/batcher.h"
#include "metrics/registry.h"
#include "model/predictor.h"
#include "serving/review.h"
#include "store/result_store.h"

namespace pneumo::serving {

struct ServiceOptions {
  infer::BatcherOptions batching;
  std::chrono::milliseconds request_timeout{30000};  // from arrival to the model's answer
  ReviewPolicy review;
  int preview_max_side = 384;
  image::DecodeLimits decode_limits;
  std::size_t heatmap_cache_entries = 64;  // rendered PNGs kept in memory (~100 KB each)
  // Uploads decoded at once (0: one per core). Decoding is CPU-bound: more at once only shares the
  // same cores more finely, delays every upload, and holds more decoded pixels in memory.
  int decode_slots = 0;
};

class PredictionService {
 public:
  // `explainer` is a second Predictor of the same model for heatmaps (load it with 1 thread).
  static Result<std::unique_ptr<PredictionService>> Create(
      std::unique_ptr<model::Predictor> predictor, std::unique_ptr<model::Predictor> explainer,
      std::unique_ptr<store::ResultStore> store, ServiceOptions options,
      metrics::Registry& registry);
  ~PredictionService();
  PredictionService(const PredictionService&) = delete;
  PredictionService& operator=(const PredictionService&) = delete;

  // Predicts and stores. On success the record is durable in the store. `owner` is the user who
  // uploaded it (store::PredictionRecord::owner; "" without accounts). Errors: the decoder's
  // (kEmptyInput, kUnsupportedFormat, kCorruptInput, kImageTooLarge, kInvalidDimensions); kBusy
  // when the batch queue is full; kTimeout when not computed within request_timeout; kUnavailable
  // when computed but not stored (the caller must not report success); kModelError when the model
  // failed.
  Result<store::PredictionRecord> Predict(std::span<const std::uint8_t> bytes,
                                          std::string_view filename, std::string_view owner = {});

  // Grad-CAM overlay PNG for a stored prediction. kNotFound, kUnavailable (store), kModelError.
  Result<std::vector<std::uint8_t>> Heatmap(std::string_view id);

  // Deletes a stored prediction and forgets its cached heatmap. kNotFound, kUnavailable (store).
  Result<void> Delete(std::string_view id);

  // Swaps in another model between two batches: loaded, checked and self-tested by the caller
  // (see SelfTest). Refused (kInvalidArgument, the old model keeps serving) when it prepares its
  // input differently, because requests already prepared for the current model may be queued.
  Result<void> ReplaceModel(std::unique_ptr<model::Predictor> predictor,
                            std::unique_ptr<model::Predictor> explainer);

  store::ResultStore& store() { return *store_; }
  model::ModelCard card() const;  // of the current model
  const ServiceOptions& options() const { return options_; }
  std::size_t queue_depth() const;

 private:
  struct Metrics;
  PredictionService(std::unique_ptr<model::Predictor> predictor,
                    std::unique_ptr<model::Predictor> explainer,
                    std::unique_ptr<store::ResultStore> store, ServiceOptions options,
                    metrics::Registry& registry);
  // A model and the number of the swap that brought it in; immutable once published.
  struct ModelSlot {
    std::uint64_t generation = 0;
    std::shared_ptr<model::Predictor> predictor;  // used only by the batcher's worker
  };
  std::shared_ptr<const ModelSlot> Current() const;
  std::shared_ptr<const ModelSlot> SlotOf(std::uint64_t generation) const;
  Result<std::vector<float>> RunBatch(std::span<const cv::Mat> prepared);
  Result<std::vector<std::uint8_t>> RenderHeatmap(std::string_view id);

  const ServiceOptions options_;
  std::counting_semaphore<1024> decode_slots_;
  mutable std::mutex model_mu_;
  std::shared_ptr<const ModelSlot> current_;  // GUARDED_BY(model_mu_)
  std::shared_ptr<const ModelSlot>
      previous_;  // GUARDED_BY(model_mu_): batches started before a swap
  std::unique_ptr<store::ResultStore> store_;
  std::unique_ptr<Metrics> metrics_;

  std::mutex explainer_mu_;
  std::unique_ptr<model::Predictor> explainer_;  // GUARDED_BY(explainer_mu_)

  std::mutex cache_mu_;
  std::list<std::pair<std::string, std::vector<std::uint8_t>>>
      heatmap_lru_;  // GUARDED_BY(cache_mu_)
  std::unordered_map<std::string, decltype(heatmap_lru_)::iterator>
      heatmap_index_;  // GUARDED_BY(cache_mu_)

  std::unique_ptr<infer::Batcher> batcher_;  // last: its worker calls RunBatch, so it stops first
};

// One prediction on a synthetic chest-like image must give a finite probability: a model that
// loads but computes nonsense (NaN weights, a broken export) is refused before it serves anyone.
Result<void> SelfTest(model::Predictor& predictor);

// The name to keep for an upload: the last path component, control characters removed, at most
// 255 bytes; "upload.<format>" when nothing is left.
std::string CleanFilename(std::string_view name, image::ImageFormat format);

}  // namespace pneumo::serving
