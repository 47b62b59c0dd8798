#include "serving/prediction_service.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/sha256.h"
#include "image/dicom_attributes.h"
#include "model/predictor.h"
#include "serving/prediction_id.h"
#include "serving/preview.h"

namespace pneumo::serving {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Milliseconds(std::chrono::microseconds d) { return d.count() / 1000.0; }

// Latency buckets in seconds, from a fast forward pass (~2 ms) to a request stuck for a while.
const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};

// What the batch function returns per image: the calibrated probability, the OOD score and the
// generation of the model that computed them (exact as a float far beyond any number of swaps).
constexpr int kValuesPerImage = 3;

// OOD scores: about 0.2 for a typical chest X-ray with the shipped model (threshold 0.44); pictures
// that are no X-rays reach 1 to 10 and beyond.
const std::vector<double> kOodBuckets = {0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 20};

// Holds one of the service's decode slots for a scope: released however the scope ends, so a
// throwing decoder cannot lose a slot for good.
class DecodeSlot {
 public:
  explicit DecodeSlot(std::counting_semaphore<1024>& slots) : slots_(slots) { slots_.acquire(); }
  ~DecodeSlot() { slots_.release(); }
  DecodeSlot(const DecodeSlot&) = delete;
  DecodeSlot& operator=(const DecodeSlot&) = delete;

 private:
  std::counting_semaphore<1024>& slots_;
};

// What the history keeps of a DICOM input so results can go back to its study.
store::DicomIdentifiers DicomIdentifiersOf(const image::DicomAttributes& a) {
  return store::DicomIdentifiers{.study_instance_uid = a.study_instance_uid,
                                 .series_instance_uid = a.series_instance_uid,
                                 .sop_instance_uid = a.sop_instance_uid,
                                 .sop_class_uid = a.sop_class_uid,
                                 .accession_number = a.accession_number,
                                 .modality = a.modality,
                                 .patient_id = a.patient_id,
                                 .patient_name = a.patient_name,
                                 .patient_birth_date = a.patient_birth_date,
                                 .patient_sex = a.patient_sex,
                                 .study_date = a.study_date,
                                 .study_time = a.study_time,
                                 .study_id = a.study_id,
                                 .referring_physician = a.referring_physician};
}

}  // namespace

struct PredictionService::Metrics {
  explicit Metrics(metrics::Registry& r, const model::ModelCard& card)
      : registry(r),
        decode(r.AddHistogram("pneumo_decode_duration_seconds",
                              "Time to decode an upload and prepare the model input",
                              kLatencyBuckets)),
        queue_wait(r.AddHistogram("pneumo_queue_wait_duration_seconds",
                                  "Time a request waited for its batch to start", kLatencyBuckets)),
        inference(r.AddHistogram("pneumo_inference_duration_seconds",
                                 "Time of one batched forward pass", kLatencyBuckets)),
        batch_size(r.AddHistogram("pneumo_batch_size", "Images per forward pass",
                                  {1, 2, 4, 8, 16, 32, 64, 128})),
        heatmap(r.AddHistogram("pneumo_heatmap_duration_seconds",
                               "Time to compute and render a Grad-CAM heatmap (cache misses)",
                               kLatencyBuckets)),
        ood_score(r.AddHistogram(
            "pneumo_ood_score",
            "Out-of-distribution score of each prediction (Mahalanobis distance of the "
            "network's features, per feature)",
            kOodBuckets)),
        ood(r.AddCounter("pneumo_predictions_ood_total",
                         "Predictions whose image does not look like a frontal chest X-ray")),
        review(r.AddCounter("pneumo_predictions_review_total",
                            "Predictions flagged for human review")),
        rejected(r.AddCounter("pneumo_inputs_rejected_total",
                              "Uploads refused as unreadable or unsafe")),
        pneumonia(r.AddCounter("pneumo_predictions_total", "Predictions stored, by label",
                               {{"label", "PNEUMONIA"}})),
        normal(r.AddCounter("pneumo_predictions_total", "Predictions stored, by label",
                            {{"label", "NORMAL"}})) {
    ModelInfo(card).Set(1);
  }
  metrics::Gauge& ModelInfo(const model::ModelCard& card) {
    return registry.AddGauge(
        "pneumo_model_info", "The model being served (1; 0 for models replaced since start)",
        {{"name", card.name}, {"version", card.version}, {"architecture", card.architecture}});
  }
  // Registered at start-up (so both series exist from the start): no registry lock per request.
  metrics::Counter& Predictions(const std::string& label) {
    return label == "PNEUMONIA" ? pneumonia : normal;
  }
  metrics::Registry& registry;
  metrics::Histogram& decode;
  metrics::Histogram& queue_wait;
  metrics::Histogram& inference;
  metrics::Histogram& batch_size;
  metrics::Histogram& heatmap;
  metrics::Histogram& ood_score;
  metrics::Counter& ood;
  metrics::Counter& review;
  metrics::Counter& rejected;
  metrics::Counter& pneumonia;
  metrics::Counter& normal;
};

std::string CleanFilename(std::string_view name, image::ImageFormat format) {
  if (const auto slash = name.find_last_of("/\\"); slash != std::string_view::npos)
    name.remove_prefix(slash + 1);
  std::string clean;
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) clean += c;
  }
  if (clean.size() > 255) {
    clean.resize(255);
    // Never cut a UTF-8 sequence in half: drop continuation bytes and their lead byte.
    while (!clean.empty() && (static_cast<unsigned char>(clean.back()) & 0xC0) == 0x80)
      clean.pop_back();
    if (!clean.empty() && static_cast<unsigned char>(clean.back()) >= 0xC0) clean.pop_back();
  }
  if (clean.empty() || clean == "." || clean == "..")
    clean = "upload." + std::string(image::FormatName(format));
  return clean;
}

Result<std::unique_ptr<PredictionService>> PredictionService::Create(
    std::unique_ptr<model::Predictor> predictor, std::unique_ptr<model::Predictor> explainer,
    std::unique_ptr<store::ResultStore> store, ServiceOptions options,
    metrics::Registry& registry) {
  if (!predictor || !explainer || !store)
    return Fail(ErrorCode::kInvalidArgument, "service needs a model and a store");
  if (options.preview_max_side < 16)
    return Fail(ErrorCode::kInvalidArgument, "preview side must be at least 16 px");
  if (options.request_timeout.count() <= 0)
    return Fail(ErrorCode::kInvalidArgument, "request timeout must be positive");
  return std::unique_ptr<PredictionService>(new PredictionService(
      std::move(predictor), std::move(explainer), std::move(store), options, registry));
}

PredictionService::PredictionService(std::unique_ptr<model::Predictor> predictor,
                                     std::unique_ptr<model::Predictor> explainer,
                                     std::unique_ptr<store::ResultStore> store,
                                     ServiceOptions options, metrics::Registry& registry)
    : options_(options),
      decode_slots_(
          options_.decode_slots > 0
              ? std::min(options_.decode_slots, 1024)
              : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 1024u))),
      current_(std::make_shared<const ModelSlot>(ModelSlot{0, std::move(predictor)})),
      store_(std::move(store)),
      metrics_(std::make_unique<Metrics>(registry, current_->predictor->card())),
      explainer_(std::move(explainer)) {
  infer::BatcherOptions batching = options_.batching;
  batching.values_per_image = kValuesPerImage;
  batcher_ = std::make_unique<infer::Batcher>(
      [this](std::span<const cv::Mat> prepared) { return RunBatch(prepared); }, batching);
}

PredictionService::~PredictionService() = default;

std::shared_ptr<const PredictionService::ModelSlot> PredictionService::Current() const {
  std::lock_guard lock(model_mu_);
  return current_;
}

std::shared_ptr<const PredictionService::ModelSlot> PredictionService::SlotOf(
    std::uint64_t generation) const {
  std::lock_guard lock(model_mu_);
  if (previous_ && previous_->generation == generation) return previous_;
  return current_;
}

model::ModelCard PredictionService::card() const { return Current()->predictor->card(); }

Result<void> PredictionService::ReplaceModel(std::unique_ptr<model::Predictor> predictor,
                                             std::unique_ptr<model::Predictor> explainer) {
  if (!predictor || !explainer)
    return Fail(ErrorCode::kInvalidArgument, "a model and its explainer are needed");
  const auto old = Current();
  const auto& was = old->predictor->card();
  const auto& now = predictor->card();
  if (now.input_size != was.input_size || now.normalization.mode != was.normalization.mode ||
      now.normalization.mean != was.normalization.mean ||
      now.normalization.std != was.normalization.std ||
      now.normalization.equalization != was.normalization.equalization ||
      now.normalization.borders != was.normalization.borders)
    return Fail(ErrorCode::kInvalidArgument,
                "the new model prepares its input differently (size or normalisation); restart "
                "pneumo serve to "
                "switch to it");
  metrics_->ModelInfo(was).Set(0);
  metrics_->ModelInfo(now).Set(1);
  {
    std::lock_guard lock(model_mu_);
    previous_ = current_;
    current_ = std::make_shared<const ModelSlot>(
        ModelSlot{previous_->generation + 1, std::move(predictor)});
  }
  {
    std::lock_guard lock(explainer_mu_);
    explainer_ = std::move(explainer);
  }
  std::lock_guard lock(cache_mu_);  // heatmaps of the old model are not this model's
  heatmap_lru_.clear();
  heatmap_index_.clear();
  return {};
}

Result<void> SelfTest(model::Predictor& predictor) {
  cv::Mat chest(256, 256, CV_32FC1);
  for (int r = 0; r < chest.rows; ++r)
    for (int c = 0; c < chest.cols; ++c)
      chest.at<float>(r, c) = 0.2f + 0.6f * static_cast<float>((r * 7 + c * 3) % 97) / 97.0f;
  cv::Mat prepared = predictor.Prepare(chest);
  auto out = predictor.Predict({&prepared, 1});
  if (!out) return std::unexpected(out.error());
  if (out->size() != 1 || !std::isfinite((*out)[0].probability) ||
      !std::isfinite((*out)[0].ood_score))
    return Fail(ErrorCode::kModelError, "the model's self-test prediction is not a finite number");
  return {};
}

std::size_t PredictionService::queue_depth() const { return batcher_->queue_depth(); }

Result<std::vector<float>> PredictionService::RunBatch(std::span<const cv::Mat> prepared) {
  metrics_->batch_size.Observe(static_cast<double>(prepared.size()));
  const auto start = Clock::now();
  const auto slot = Current();
  auto outputs = slot->predictor->Predict(prepared);
  metrics_->inference.Observe(Seconds(Clock::now() - start));
  if (!outputs) return std::unexpected(outputs.error());
  std::vector<float> values;  // kValuesPerImage per image
  values.reserve(outputs->size() * kValuesPerImage);
  for (const auto& o : *outputs) {
    values.push_back(o.probability);
    values.push_back(o.ood_score);
    values.push_back(static_cast<float>(slot->generation));
  }
  return values;
}

Result<store::PredictionRecord> PredictionService::Predict(std::span<const std::uint8_t> bytes,
                                                           std::string_view filename,
                                                           std::string_view owner) {
  const auto arrived = Clock::now();
  const auto deadline = arrived + options_.request_timeout;
  const auto slot = Current();  // prepares this upload; the batch may run on a newer model
  const model::ModelCard& prepared_for = slot->predictor->card();

  // Decode no larger than the model needs (JPEG DCT scaling: a 2000 px JPEG decodes at 1/8 scale
  // in a third of the time), then prepare. The preview is drawn from the same pixels.
  Result<image::DecodedImage> decoded;
  cv::Mat prepared;
  {
    const DecodeSlot held(decode_slots_);
    decoded = image::DecodeForInference(bytes, prepared_for.input_size, options_.decode_limits);
    if (decoded)
      prepared = slot->predictor->Prepare(decoded->gray);  // Prepare is const and thread-safe
  }
  if (!decoded) {
    metrics_->rejected.Increment();
    return std::unexpected(decoded.error());
  }
  const auto decode_time = Clock::now() - arrived;
  metrics_->decode.Observe(Seconds(decode_time));

  auto submitted = batcher_->Submit(prepared, deadline);
  if (!submitted) {
    return Fail(ErrorCode::kBusy, "the inference queue is full (" +
                                      std::to_string(options_.batching.max_queue) +
                                      " waiting); try again in a moment");
  }
  // While the model works: the preview, the hash and the input checks.
  store::PredictionRecord record;
  record.created_at_ms = NowUnixMs();
  record.id = NewPredictionId(record.created_at_ms);
  record.created_at = IsoUtc(record.created_at_ms);
  record.filename = CleanFilename(filename, decoded->format);
  record.owner = std::string(owner);
  record.sha256 = Sha256Hex(bytes);
  auto preview_jpeg = EncodeJpeg(MakePreview(decoded->gray, options_.preview_max_side));
  if (preview_jpeg) record.preview_jpeg = std::move(*preview_jpeg);
  std::vector<std::string> reasons = InputReviewReasons(*decoded, options_.review);
  if (const auto& dicom = decoded->dicom) record.dicom = DicomIdentifiersOf(*dicom);

  auto& future = *submitted;
  if (future.wait_until(deadline) != std::future_status::ready) {
    return Fail(ErrorCode::kTimeout, "no answer from the model within " +
                                         std::to_string(options_.request_timeout.count()) +
                                         " ms; try again in a moment");
  }
  auto output = future.get();
  if (!output) {
    // The batcher answers kTimeout (expired in the queue) or kUnavailable (shutting down); any
    // other failure is the model's.
    const ErrorCode code = output.error().code;
    if (code == ErrorCode::kTimeout || code == ErrorCode::kUnavailable)
      return std::unexpected(output.error());
    return Fail(ErrorCode::kModelError, output.error().message);
  }
  metrics_->queue_wait.Observe(output->queue_time.count() / 1e6);

  // The model that computed this answer, which a swap since the upload arrived may have changed.
  const auto computed_by = SlotOf(static_cast<std::uint64_t>(output->extra.at(1)));
  const model::ModelCard& card = computed_by->predictor->card();
  record.model_name = card.name;
  record.model_version = card.version;
  record.threshold = card.threshold;
  record.probability = output->value;
  record.label = record.probability >= card.threshold ? "PNEUMONIA" : "NORMAL";
  auto uncertain = UncertaintyReviewReasons(record.probability, card.threshold, options_.review);
  reasons.insert(reasons.begin(), uncertain.begin(), uncertain.end());
  const bool has_ood = computed_by->predictor->has_ood_statistics();
  const float ood_score = output->extra.empty() ? 0.0f : output->extra.front();
  const bool out_of_distribution = has_ood && ood_score > card.ood.threshold;
  // First: the doctor must read this one before trusting anything else on the page.
  if (out_of_distribution) reasons.insert(reasons.begin(), std::string(kNotChestXrayReason));
  record.review = !reasons.empty();
  record.decode_ms = std::chrono::duration<double, std::milli>(decode_time).count();
  record.queue_ms = Milliseconds(output->queue_time);
  record.inference_ms = Milliseconds(output->compute_time);
  nlohmann::json details{{"review_reasons", reasons},
                         {"image",
                          {{"format", image::FormatName(decoded->format)},
                           {"width", decoded->width},
                           {"height", decoded->height}}},
                         {"batch_size", output->batch_size}};
  if (has_ood) {
    details["ood_score"] = ood_score;
    details["out_of_distribution"] = out_of_distribution;
  }
  record.details_json = details.dump();

  if (auto put = store_->Put(record); !put) {
    return Fail(ErrorCode::kUnavailable,
                "the result store is unavailable, so nothing was stored: " + put.error().message);
  }
  metrics_->Predictions(record.label).Increment();
  if (record.review) metrics_->review.Increment();
  if (has_ood) metrics_->ood_score.Observe(ood_score);
  if (out_of_distribution) metrics_->ood.Increment();
  return record;
}

Result<void> PredictionService::Delete(std::string_view id) {
  if (auto deleted = store_->Delete(id); !deleted) return deleted;
  std::lock_guard lock(cache_mu_);
  if (auto it = heatmap_index_.find(std::string(id)); it != heatmap_index_.end()) {
    heatmap_lru_.erase(it->second);
    heatmap_index_.erase(it);
  }
  return {};
}

Result<std::vector<std::uint8_t>> PredictionService::Heatmap(std::string_view id) {
  const std::string key(id);
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = heatmap_index_.find(key); it != heatmap_index_.end()) {
      heatmap_lru_.splice(heatmap_lru_.begin(), heatmap_lru_, it->second);
      return it->second->second;
    }
  }
  auto png = RenderHeatmap(id);
  if (!png) return png;
  std::lock_guard lock(cache_mu_);
  if (options_.heatmap_cache_entries > 0 && !heatmap_index_.contains(key)) {
    heatmap_lru_.emplace_front(key, *png);
    heatmap_index_[key] = heatmap_lru_.begin();
    if (heatmap_lru_.size() > options_.heatmap_cache_entries) {
      heatmap_index_.erase(heatmap_lru_.back().first);
      heatmap_lru_.pop_back();
    }
  }
  return png;
}

Result<std::vector<std::uint8_t>> PredictionService::RenderHeatmap(std::string_view id) {
  auto stored = store_->GetPreview(id);
  if (!stored) return std::unexpected(stored.error());
  auto preview = DecodeGray(*stored);
  if (!preview) return std::unexpected(preview.error());
  const auto start = Clock::now();
  cv::Mat gray01;
  preview->convertTo(gray01, CV_32F, 1.0 / 255.0);
  Result<model::Predictor::Explanation> explanation;
  {
    std::lock_guard lock(explainer_mu_);  // also keeps a model swap from changing it under us
    explanation = explainer_->GradCam(explainer_->Prepare(gray01));
  }
  if (!explanation) return std::unexpected(explanation.error());
  auto png = EncodePng(OverlayHeatmap(*preview, explanation->map));
  metrics_->heatmap.Observe(Seconds(Clock::now() - start));
  return png;
}

}  // namespace pneumo::serving
