#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <numbers>
#include <opencv2/core.hpp>
#include <random>
#include <set>
#include <thread>

#include "core/file_bytes.h"
#include "core/logging.h"
#include "core/sha256.h"
#include "data/batch_loader.h"
#include "data/image_cache.h"
#include "data/image_folder.h"
#include "data/patient_split.h"
#include "data/stress.h"
#include "eval/calibration.h"
#include "image/decode.h"
#include "metrics/exporter.h"
#include "metrics/registry.h"
#include "model/model_card.h"
#include "model/networks.h"
#include "train/progress_bar.h"

namespace pneumo::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string NowIso8601() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

std::size_t CountPatients(const std::vector<data::LabeledImage>& images) {
  std::set<std::string> patients;
  for (const auto& image : images) patients.insert(image.patient_id);
  return patients.size();
}

// Mean and std of the pixels the network would see after the mode's first step, on a sample.
image::Normalization MeasureNormalization(const data::ImageCache& cache, const std::string& mode,
                                          const std::string& equalization,
                                          const std::string& borders, int input_size) {
  image::Normalization identity{mode, 0.0f, 1.0f, equalization, borders};
  double sum = 0, sum_sq = 0, count = 0;
  const std::size_t stride = std::max<std::size_t>(1, cache.size() / 500);
  for (std::size_t i = 0; i < cache.size(); i += stride) {
    cv::Mat x = image::ResizeForModel(
        borders == "uniform" ? image::TrimUniformBorders(cache.image(i)) : cache.image(i),
        input_size);
    image::NormalizeInPlace(x, identity);
    cv::Scalar mean, std;
    cv::meanStdDev(x, mean, std);
    sum += mean[0] * x.total();
    sum_sq += (std[0] * std[0] + mean[0] * mean[0]) * x.total();
    count += x.total();
  }
  const double mean = sum / count;
  return {mode, static_cast<float>(mean),
          static_cast<float>(std::sqrt(std::max(1e-12, sum_sq / count - mean * mean))),
          equalization, borders};
}

torch::Tensor ToTensor(const data::Batch& batch, const torch::Device& device) {
  return torch::from_blob(const_cast<float*>(batch.pixels.data()),
                          {batch.size, 1, batch.side, batch.side}, torch::kFloat32)
      .to(device);
}

struct Evaluation {
  std::vector<float> logits;
  std::vector<int> labels;
  double loss = 0;
};

Evaluation Evaluate(model::Network& net, data::BatchLoader& loader, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  net.eval();
  Evaluation out;
  loader.StartEpoch(0);
  double loss_sum = 0;
  while (auto batch = loader.Next()) {
    auto logits = net.forward(ToTensor(*batch, device)).cpu();
    std::vector<float> labels_f(batch->labels.begin(), batch->labels.end());
    auto target = torch::tensor(labels_f);
    loss_sum += torch::binary_cross_entropy_with_logits(logits, target, {}, {}, at::Reduction::Sum)
                    .item<double>();
    out.logits.insert(out.logits.end(), logits.data_ptr<float>(),
                      logits.data_ptr<float>() + logits.numel());
    out.labels.insert(out.labels.end(), batch->labels.begin(), batch->labels.end());
  }
  out.loss = out.logits.empty() ? 0 : loss_sum / static_cast<double>(out.logits.size());
  return out;
}

// The validation images under acquisition shifts, at the cache's side (the loader trims and
// resizes each, as serving does an upload).
struct StressSet {
  data::ImageCache images;
  std::vector<std::size_t> condition;  // index into data::StressConditions(), per image
};

// Each validation image (at the cache's side) once clean and under `per_image` further
// conditions, rotating through the list so that every condition gets about the same number of
// images of each class. Cheap enough to score after every epoch.
StressSet BuildStressSample(const data::ImageCache& val, int per_image, std::uint64_t seed) {
  const auto conditions = data::StressConditions();
  const std::size_t shifted = conditions.size() - 1;  // all but "clean"
  std::vector<cv::Mat> images;
  std::vector<int> labels;
  StressSet set{data::ImageCache(), {}};
  for (std::size_t i = 0; i < val.size(); ++i) {
    std::vector<std::size_t> chosen{0};
    for (int k = 0; k < per_image; ++k)
      chosen.push_back(1 + (i * static_cast<std::size_t>(per_image) + k) % shifted);
    for (std::size_t c : chosen) {
      // At the cache's side: the loader trims and resizes each, as serving does an upload.
      images.push_back(data::ApplyStress(conditions[c], val.image(i), data::StressSeed(seed, i)));
      labels.push_back(val.label(i));
      set.condition.push_back(c);
    }
  }
  set.images = data::ImageCache::FromImages(std::move(images), std::move(labels), val.input_size());
  return set;
}

// All validation images under one condition.
data::ImageCache BuildCondition(const data::ImageCache& val, std::size_t condition,
                                std::uint64_t seed) {
  const auto& c = data::StressConditions()[condition];
  std::vector<cv::Mat> images;
  for (std::size_t i = 0; i < val.size(); ++i)
    images.push_back(data::ApplyStress(c, val.image(i), data::StressSeed(seed, i)));
  return data::ImageCache::FromImages(std::move(images), val.labels(), val.input_size());
}

// Mean over conditions of the AUC on the images of that condition.
double MeanConditionAuc(const Evaluation& e, const std::vector<std::size_t>& condition) {
  const std::size_t count = data::StressConditions().size();
  std::vector<std::vector<float>> logits(count);
  std::vector<std::vector<int>> labels(count);
  for (std::size_t i = 0; i < e.logits.size(); ++i) {
    logits[condition[i]].push_back(e.logits[i]);
    labels[condition[i]].push_back(e.labels[i]);
  }
  double sum = 0;
  int used = 0;
  for (std::size_t c = 0; c < count; ++c) {
    if (logits[c].empty()) continue;
    sum += eval::RocAuc(logits[c], labels[c]);
    ++used;
  }
  return used ? sum / used : 0.0;
}

// Polyak averaging of the weights (and batch-norm statistics): the averaged network is smoother
// than any single step's and is what gets evaluated and exported.
class WeightAverage {
 public:
  WeightAverage(model::Network& net, model::Network& average, double decay)
      : net_(net), average_(average), decay_(decay) {
    Copy(1.0);
  }
  void Update() {
    ++steps_;
    // Short memory at first, so the average is not dominated by the random initial weights.
    Copy(1.0 - std::min(decay_, (1.0 + steps_) / (10.0 + steps_)));
  }

 private:
  void Copy(double weight) {
    torch::NoGradGuard no_grad;
    auto src = net_.parameters(), dst = average_.parameters();
    for (std::size_t i = 0; i < src.size(); ++i)
      dst[i].mul_(1.0 - weight).add_(src[i].detach(), weight);
    auto src_b = net_.buffers(), dst_b = average_.buffers();
    for (std::size_t i = 0; i < src_b.size(); ++i) {
      if (dst_b[i].is_floating_point())
        dst_b[i].mul_(1.0 - weight).add_(src_b[i], weight);
      else
        dst_b[i].copy_(src_b[i]);
    }
  }
  model::Network& net_;
  model::Network& average_;
  double decay_;
  long steps_ = 0;
};

// Training-process metrics, scraped on --metrics-port like the original system's trainer.
struct TrainMetrics {
  explicit TrainMetrics(metrics::Registry& r)
      : epoch(r.AddGauge("pneumo_train_epoch", "Current epoch (1-based)")),
        steps(r.AddCounter("pneumo_train_steps_total", "Optimiser steps taken")),
        images(r.AddCounter("pneumo_train_images_total", "Training images processed")),
        loss(r.AddGauge("pneumo_train_loss", "Training loss, mean over the last step")),
        learning_rate(r.AddGauge("pneumo_train_learning_rate", "Current learning rate")),
        images_per_second(r.AddGauge("pneumo_train_images_per_second",
                                     "Training throughput over the current epoch")),
        val_auc(r.AddGauge("pneumo_validation_auc", "Validation ROC AUC after the last epoch")),
        val_loss(r.AddGauge("pneumo_validation_loss", "Validation loss after the last epoch")),
        val_accuracy(r.AddGauge("pneumo_validation_accuracy",
                                "Validation accuracy at 0.5 after the last epoch")),
        best_auc(r.AddGauge("pneumo_validation_best_auc", "Best validation ROC AUC so far")) {}
  metrics::Gauge& epoch;
  metrics::Counter& steps;
  metrics::Counter& images;
  metrics::Gauge& loss;
  metrics::Gauge& learning_rate;
  metrics::Gauge& images_per_second;
  metrics::Gauge& val_auc;
  metrics::Gauge& val_loss;
  metrics::Gauge& val_accuracy;
  metrics::Gauge& best_auc;
};

// AUC differences below this (a few validation images) are ties.
constexpr double kAucTie = 5e-4;

double ScheduledLearningRate(const TrainOptions& o, double epoch_progress) {
  // epoch_progress in [0, epochs): linear warm-up, then cosine to 1% of peak.
  if (epoch_progress < o.warmup_epochs)
    return o.learning_rate * (epoch_progress + 1e-3) / o.warmup_epochs;
  const double span = std::max(1e-9, static_cast<double>(o.epochs - o.warmup_epochs));
  const double t = std::clamp((epoch_progress - o.warmup_epochs) / span, 0.0, 1.0);
  return o.learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + std::cos(std::numbers::pi * t)));
}

}  // namespace

Result<TrainReport> Train(const TrainOptions& options) {
  const auto started = Clock::now();
  if (options.epochs < 1 || options.batch_size < 2 || options.input_size < 16)
    return Fail(ErrorCode::kInvalidArgument,
                "epochs must be >= 1, batch size >= 2, input size >= 16");
  if (auto valid = image::ValidateNormalization(
          {options.normalization, 0.0f, 1.0f, options.equalization, options.borders});
      !valid)
    return std::unexpected(valid.error());
  if (options.device != "cpu" && options.device != "cuda")
    return Fail(ErrorCode::kInvalidArgument, "device must be cpu or cuda");
  if (options.device == "cuda" && !torch::cuda::is_available())
    return Fail(ErrorCode::kInvalidArgument,
                "--device cuda: no CUDA device, or this LibTorch is a CPU-only build (Debian's "
                "libtorch is)");
  const torch::Device device =
      options.device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::manual_seed(options.seed);  // before the network exists: its initial weights are drawn
  auto network = model::MakeNetwork(options.architecture);
  if (!network) return std::unexpected(network.error());
  model::Network& net = **network;
  net.to(device);
  // The averaged copy is what gets evaluated, checkpointed and exported.
  std::shared_ptr<model::Network> average;
  std::unique_ptr<WeightAverage> averager;
  if (options.ema_decay > 0) {
    auto made = model::MakeNetwork(options.architecture);
    if (!made) return std::unexpected(made.error());
    average = std::move(*made);
    average->to(device);
    averager = std::make_unique<WeightAverage>(net, *average, options.ema_decay);
  }
  model::Network& eval_net = average ? *average : net;

  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);

  auto scanned = data::ScanImageFolder(options.data_dir, "train");
  if (!scanned) return std::unexpected(scanned.error());
  std::vector<data::LabeledImage> all = std::move(*scanned);
  if (options.max_images > 0 && all.size() > options.max_images) {
    std::mt19937_64 rng(options.seed);
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(options.max_images);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  }
  auto fingerprint = data::FingerprintImages(all);
  if (!fingerprint) return std::unexpected(fingerprint.error());
  const data::Split split =
      data::SplitByPatient(all, options.validation_fraction, options.split_seed);
  if (split.train.empty() || split.validation.empty())
    return Fail(ErrorCode::kInvalidArgument, "too few patients to carve a validation split");

  TrainReport report;
  report.train_images = split.train.size();
  report.validation_images = split.validation.size();
  report.train_patients = CountPatients(split.train);
  report.validation_patients = CountPatients(split.validation);
  spdlog::info(
      "event=split train_images={} train_patients={} validation_images={} validation_patients={}",
      report.train_images, report.train_patients, report.validation_images,
      report.validation_patients);

  const auto decode_started = Clock::now();
  // Held larger than the input so that crops keep their detail; validation too, so that the
  // stress conditions work on the image as acquired and the model's own resize comes last.
  const int cache_side = options.cache_side > 0 ? std::max(options.cache_side, options.input_size)
                                                : options.input_size;
  const bool trim = options.borders == "uniform";
  auto train_cache = data::ImageCache::Build(split.train, cache_side, threads, trim);
  if (!train_cache) return std::unexpected(train_cache.error());
  auto val_cache = data::ImageCache::Build(split.validation, cache_side, threads, trim);
  if (!val_cache) return std::unexpected(val_cache.error());
  spdlog::info("event=cache_built seconds={:.1f} skipped={}", Seconds(decode_started),
               train_cache->skipped() + val_cache->skipped());

  const image::Normalization normalization =
      MeasureNormalization(*train_cache, options.normalization, options.equalization,
                           options.borders, options.input_size);
  const StressSet stress_sample =
      BuildStressSample(*val_cache, std::max(0, options.stress_per_image), options.split_seed);
  std::size_t positives = 0;
  for (int y : train_cache->labels()) positives += static_cast<std::size_t>(y);
  const double n = static_cast<double>(train_cache->size());
  const double positive_weight =
      options.class_weighting ? n / (2.0 * std::max<double>(1, positives)) : 1.0;
  const double negative_weight =
      options.class_weighting ? n / (2.0 * std::max<double>(1, n - positives)) : 1.0;

  data::BatchLoader train_loader(*train_cache, {.batch_size = options.batch_size,
                                                .shuffle = true,
                                                .augment = true,
                                                .augment_options = options.augment,
                                                .normalization = normalization,
                                                .output_side = options.input_size,
                                                .workers = options.loader_workers,
                                                .seed = options.seed});
  const data::BatchLoaderOptions eval_options{.batch_size = 64,
                                              .shuffle = false,
                                              .augment = false,
                                              .normalization = normalization,
                                              .output_side = options.input_size,
                                              .workers = 1,
                                              .seed = options.seed};
  data::BatchLoader val_loader(*val_cache, eval_options);
  data::BatchLoader stress_loader(stress_sample.images, eval_options);

  metrics::Registry registry;
  TrainMetrics gauges(registry);
  std::unique_ptr<metrics::Exporter> exporter;
  if (options.metrics_port >= 0) {
    auto started_exporter =
        metrics::Exporter::Start(registry, options.metrics_host, options.metrics_port);
    if (!started_exporter) return std::unexpected(started_exporter.error());
    exporter = std::move(*started_exporter);
    spdlog::info("event=metrics_listening port={}", exporter->port());
  }

  torch::optim::AdamW optimizer(
      {torch::optim::OptimizerParamGroup(
           model::DecayedParameters(net),
           std::make_unique<torch::optim::AdamWOptions>(options.learning_rate)),
       torch::optim::OptimizerParamGroup(
           model::UndecayedParameters(net),
           std::make_unique<torch::optim::AdamWOptions>(options.learning_rate))},
      torch::optim::AdamWOptions(options.learning_rate));
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options())
      .weight_decay(options.weight_decay);
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[1].options()).weight_decay(0.0);

  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (ec)
    return Fail(ErrorCode::kIoError,
                "cannot create " + options.output_dir.string() + ": " + ec.message());
  const std::string best_path = (options.output_dir / model::kWeightsFile).string();

  double best_auc = -1, best_loss = 1e300;
  int epochs_without_gain = 0;
  const std::size_t steps_per_epoch = train_loader.batches_per_epoch();
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_started = Clock::now();
    net.train();
    train_loader.StartEpoch(epoch);
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options.epochs),
                    steps_per_epoch, options.progress);
    gauges.epoch.Set(epoch + 1);
    double loss_sum = 0;
    std::size_t seen = 0, step = 0;
    double lr = 0;
    while (auto batch = train_loader.Next()) {
      lr = ScheduledLearningRate(options, epoch + static_cast<double>(step) / steps_per_epoch);
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      std::vector<float> targets(batch->labels.begin(), batch->labels.end());
      std::vector<float> weights;
      for (int y : batch->labels)
        weights.push_back(static_cast<float>(y ? positive_weight : negative_weight));
      auto logits = net.forward(ToTensor(*batch, device));
      auto loss = torch::binary_cross_entropy_with_logits(logits, torch::tensor(targets).to(device),
                                                          torch::tensor(weights).to(device));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      if (averager) averager->Update();
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value))
        return Fail(ErrorCode::kInternal, "training diverged (loss is not finite); lower --lr");
      loss_sum += loss_value * batch->size;
      seen += static_cast<std::size_t>(batch->size);
      ++step;
      const double ips = static_cast<double>(seen) / Seconds(epoch_started);
      gauges.steps.Increment();
      gauges.images.Increment(batch->size);
      gauges.loss.Set(loss_value);
      gauges.learning_rate.Set(lr);
      gauges.images_per_second.Set(ips);
      bar.Update(step, {{"loss", loss_sum / static_cast<double>(seen)}, {"lr", lr}}, ips);
    }
    bar.Finish();
    const double train_seconds = Seconds(epoch_started);
    Evaluation val = Evaluate(eval_net, val_loader, device);
    const double auc = eval::RocAuc(val.logits, val.labels);
    const Evaluation stressed = Evaluate(eval_net, stress_loader, device);
    const double stress_auc = MeanConditionAuc(stressed, stress_sample.condition);
    std::vector<float> probs = eval::ApplyTemperature(val.logits, 1.0);
    const auto at_half = eval::ComputeMetrics(probs, val.labels, 0.5);
    EpochReport er{epoch + 1,
                   loss_sum / std::max<double>(1, seen),
                   val.loss,
                   auc,
                   stress_auc,
                   lr,
                   static_cast<double>(seen) / train_seconds,
                   Seconds(epoch_started)};
    report.epochs.push_back(er);
    gauges.val_auc.Set(auc);
    gauges.val_loss.Set(val.loss);
    gauges.val_accuracy.Set(at_half.accuracy);
    // Checkpoint on the stress sample's mean AUC over conditions: what holds up under shift.
    // Near-equal AUCs (within kAucTie, a few images) are decided by the stress sample's loss.
    const bool better = stress_auc > best_auc + kAucTie ||
                        (stress_auc > best_auc - kAucTie && stressed.loss < best_loss);
    spdlog::info(
        "event=epoch epoch={} train_loss={:.4f} val_loss={:.4f} val_auc={:.4f} stress_auc={:.4f} "
        "stress_loss={:.4f} val_acc@0.5={:.4f} images_per_second={:.1f} seconds={:.0f}{}",
        er.epoch, er.train_loss, er.validation_loss, auc, stress_auc, stressed.loss,
        at_half.accuracy, er.images_per_second, er.seconds, better ? " checkpoint=saved" : "");
    if (better) {
      if (stress_auc > best_auc + kAucTie)
        epochs_without_gain = 0;
      else
        ++epochs_without_gain;
      best_auc = std::max(best_auc, stress_auc);
      best_loss = stressed.loss;
      report.best_epoch = epoch + 1;
      gauges.best_auc.Set(best_auc);
      if (auto saved = model::SaveWeights(eval_net, best_path); !saved)
        return std::unexpected(saved.error());
    } else if (++epochs_without_gain >= options.patience) {
      spdlog::info("event=early_stop epoch={} best_epoch={}", epoch + 1, report.best_epoch);
      break;
    }
  }

  // Calibrate the best checkpoint on the whole stress validation: every condition, pooled.
  if (auto loaded = model::LoadWeights(eval_net, best_path); !loaded)
    return std::unexpected(loaded.error());
  eval_net.to(device);  // weights load onto the CPU
  std::vector<Evaluation> per_condition;
  Evaluation pooled;
  for (std::size_t c = 0; c < data::StressConditions().size(); ++c) {
    const data::ImageCache shifted = BuildCondition(*val_cache, c, options.split_seed);
    data::BatchLoader loader(shifted, eval_options);
    per_condition.push_back(Evaluate(eval_net, loader, device));
    pooled.logits.insert(pooled.logits.end(), per_condition.back().logits.begin(),
                         per_condition.back().logits.end());
    pooled.labels.insert(pooled.labels.end(), per_condition.back().labels.begin(),
                         per_condition.back().labels.end());
  }
  const eval::ValidationCalibration calibrated =
      eval::CalibrateOnValidation(pooled.logits, pooled.labels);
  const eval::ThresholdChoice& choice = calibrated.threshold;
  report.temperature = calibrated.calibration.temperature;
  report.bias = calibrated.calibration.bias;
  report.threshold = choice.threshold;
  std::vector<eval::ConditionMetrics> rows;
  for (std::size_t c = 0; c < per_condition.size(); ++c) {
    const auto probabilities =
        eval::ApplyCalibration(per_condition[c].logits, calibrated.calibration);
    rows.push_back(
        {std::string(data::StressConditions()[c].name),
         eval::ComputeMetrics(probabilities, per_condition[c].labels, choice.threshold)});
  }
  report.validation = rows.front().metrics;  // "clean"
  report.stress = eval::SummarizeStress(std::move(rows));

  auto weight_bytes = ReadFileBytes(best_path, std::numeric_limits<std::size_t>::max());
  if (!weight_bytes) return std::unexpected(weight_bytes.error());

  model::ModelCard card;
  card.name = options.model_name;
  card.version = options.model_version;
  card.architecture = options.architecture;
  card.input_size = options.input_size;
  card.normalization = normalization;
  card.temperature = report.temperature;
  card.bias = report.bias;
  card.threshold = report.threshold;
  card.threshold_rule = choice.rule;
  card.weights_sha256 = Sha256Hex(*weight_bytes);
  card.validation = eval::ToJson(report.validation);
  card.validation["stress"] = eval::ToJson(report.stress);
  card.validation["stress"]["rule"] =
      "every validation image under each of data/stress.h's conditions (seeded by the split seed); "
      "the "
      "calibration and threshold are fitted on all conditions pooled";
  card.validation["split"] = {{"images", report.validation_images},
                              {"patients", report.validation_patients},
                              {"rule", "by patient, stratified by label, seeded"}};
  json epochs = json::array();
  for (const auto& e : report.epochs)
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"validation_loss", e.validation_loss},
                      {"validation_auc", e.validation_auc},
                      {"stress_auc", e.stress_auc},
                      {"learning_rate", e.learning_rate},
                      {"images_per_second", e.images_per_second},
                      {"seconds", e.seconds}});
  const auto& a = options.augment;
  card.training = {
      {"data",
       {{"directory", options.data_dir.filename().string()},
        {"images", all.size()},
        {"fingerprint_sha256", *fingerprint},
        {"train_images", report.train_images},
        {"train_patients", report.train_patients}}},
      {"seed", options.seed},
      {"split_seed", options.split_seed},
      {"epochs_run", report.epochs.size()},
      {"best_epoch", report.best_epoch},
      {"options",
       {{"epochs", options.epochs},
        {"batch_size", options.batch_size},
        {"optimizer", "AdamW"},
        {"learning_rate", options.learning_rate},
        {"weight_decay", options.weight_decay},
        {"schedule", "linear warm-up then cosine to 1%"},
        {"warmup_epochs", options.warmup_epochs},
        {"patience", options.patience},
        {"validation_fraction", options.validation_fraction},
        {"class_weighting", options.class_weighting},
        {"positive_weight", positive_weight},
        {"cache_side", cache_side},
        {"ema_decay", options.ema_decay},
        {"stress_per_image", options.stress_per_image},
        {"checkpoint_rule",
         "mean over stress conditions of the AUC on a stress sample (each validation "
         "image clean and under stress_per_image rotating conditions); ties within "
         "0.0005 broken by the sample's loss"},
        {"negative_weight", negative_weight},
        {"threads", threads},
        {"device", options.device}}},
      {"augmentation",
       {{"max_rotation_degrees", a.max_rotation_degrees},
        {"max_shift", a.max_shift},
        {"scale", {a.min_scale, a.max_scale}},
        {"brightness", a.brightness},
        {"contrast", a.contrast},
        {"gamma", a.gamma},
        {"blur_probability", a.blur_probability},
        {"noise_std", a.noise_std},
        {"crop_probability", a.crop_probability},
        {"min_crop_area", a.min_crop_area},
        {"max_crop_aspect", a.max_crop_aspect},
        {"sharpen_probability", a.sharpen_probability},
        {"border_probability", a.border_probability},
        {"max_border", a.max_border},
        {"horizontal_flip", false}}},
      {"history", epochs},
      {"seconds", Seconds(started)},
      {"date", NowIso8601()},
      {"pneumo_version", PNEUMO_VERSION},
      {"libtorch_version", TORCH_VERSION},
      {"command", options.command_line},
  };
  card.intended_use = {
      {"use",
       "Decision support: flags chest X-rays that may show pneumonia for a clinician to review."},
      {"population",
       "Trained on pediatric (1-5 years) anterior-posterior chest X-rays from one hospital "
       "(Guangzhou Women and Children's Medical Center; Kermany et al. 2018)."},
      {"limits",
       "Not a diagnosis. Not validated on adults, lateral views, other hospitals or devices; does "
       "not "
       "distinguish bacterial from viral pneumonia or detect other findings."}};
  if (auto saved = model::SaveModelCard(card, options.output_dir); !saved)
    return std::unexpected(saved.error());
  spdlog::info(
      "event=train_done best_epoch={} val_auc={:.4f} val_accuracy={:.4f} stress_mean_auc={:.4f} "
      "stress_worst_auc={:.4f} stress_mean_accuracy={:.4f} temperature={:.3f} bias={:.3f} "
      "threshold={:.3f} seconds={:.0f}",
      report.best_epoch, report.validation.auc, report.validation.accuracy, report.stress.mean.auc,
      report.stress.worst.auc, report.stress.mean.accuracy, report.temperature, report.bias,
      report.threshold, Seconds(started));
  return report;
}

}  // namespace pneumo::train
