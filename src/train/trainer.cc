#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <thread>

#include <opencv2/core.hpp>

#include "core/logging.h"
#include "core/sha256.h"
#include "data/batch_loader.h"
#include "data/image_cache.h"
#include "data/image_folder.h"
#include "data/patient_split.h"
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
image::Normalization MeasureNormalization(const data::ImageCache& cache, const std::string& mode) {
  image::Normalization identity{mode, 0.0f, 1.0f};
  double sum = 0, sum_sq = 0, count = 0;
  const std::size_t stride = std::max<std::size_t>(1, cache.size() / 500);
  for (std::size_t i = 0; i < cache.size(); i += stride) {
    cv::Mat x = cache.image(i).clone();
    image::NormalizeInPlace(x, identity);
    cv::Scalar mean, std;
    cv::meanStdDev(x, mean, std);
    sum += mean[0] * x.total();
    sum_sq += (std[0] * std[0] + mean[0] * mean[0]) * x.total();
    count += x.total();
  }
  const double mean = sum / count;
  return {mode, static_cast<float>(mean), static_cast<float>(std::sqrt(std::max(1e-12, sum_sq / count - mean * mean)))};
}

torch::Tensor ToTensor(const data::Batch& batch, const torch::Device& device) {
  return torch::from_blob(const_cast<float*>(batch.pixels.data()), {batch.size, 1, batch.side, batch.side},
                          torch::kFloat32)
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
    loss_sum += torch::binary_cross_entropy_with_logits(logits, target, {}, {}, at::Reduction::Sum).item<double>();
    out.logits.insert(out.logits.end(), logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    out.labels.insert(out.labels.end(), batch->labels.begin(), batch->labels.end());
  }
  out.loss = out.logits.empty() ? 0 : loss_sum / static_cast<double>(out.logits.size());
  return out;
}


// Training-process metrics, scraped on --metrics-port like the original system's trainer.
struct TrainMetrics {
  explicit TrainMetrics(metrics::Registry& r)
      : epoch(r.AddGauge("pneumo_train_epoch", "Current epoch (1-based)")),
        steps(r.AddCounter("pneumo_train_steps_total", "Optimiser steps taken")),
        images(r.AddCounter("pneumo_train_images_total", "Training images processed")),
        loss(r.AddGauge("pneumo_train_loss", "Training loss, mean over the last step")),
        learning_rate(r.AddGauge("pneumo_train_learning_rate", "Current learning rate")),
        images_per_second(r.AddGauge("pneumo_train_images_per_second", "Training throughput over the current epoch")),
        val_auc(r.AddGauge("pneumo_validation_auc", "Validation ROC AUC after the last epoch")),
        val_loss(r.AddGauge("pneumo_validation_loss", "Validation loss after the last epoch")),
        val_accuracy(r.AddGauge("pneumo_validation_accuracy", "Validation accuracy at 0.5 after the last epoch")),
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

double ScheduledLearningRate(const TrainOptions& o, double epoch_progress) {
  // epoch_progress in [0, epochs): linear warm-up, then cosine to 1% of peak.
  if (epoch_progress < o.warmup_epochs) return o.learning_rate * (epoch_progress + 1e-3) / o.warmup_epochs;
  const double span = std::max(1e-9, static_cast<double>(o.epochs - o.warmup_epochs));
  const double t = std::clamp((epoch_progress - o.warmup_epochs) / span, 0.0, 1.0);
  return o.learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + std::cos(std::numbers::pi * t)));
}

}  // namespace

Result<TrainReport> Train(const TrainOptions& options) {
  const auto started = Clock::now();
  if (options.epochs < 1 || options.batch_size < 2 || options.input_size < 16)
    return Fail(ErrorCode::kInvalidArgument, "epochs must be >= 1, batch size >= 2, input size >= 16");
  if (auto valid = image::ValidateNormalization({options.normalization, 0.0f, 1.0f}); !valid)
    return std::unexpected(valid.error());
  if (options.device != "cpu" && options.device != "cuda")
    return Fail(ErrorCode::kInvalidArgument, "device must be cpu or cuda");
  if (options.device == "cuda" && !torch::cuda::is_available())
    return Fail(ErrorCode::kInvalidArgument,
                "--device cuda: no CUDA device, or this LibTorch is a CPU-only build (Debian's libtorch is)");
  const torch::Device device = options.device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::manual_seed(options.seed);  // before the network exists: its initial weights are drawn
  auto network = model::MakeNetwork(options.architecture);
  if (!network) return std::unexpected(network.error());
  model::Network& net = **network;
  net.to(device);

  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
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
  const data::Split split = data::SplitByPatient(all, options.validation_fraction, options.seed);
  if (split.train.empty() || split.validation.empty())
    return Fail(ErrorCode::kInvalidArgument, "too few patients to carve a validation split");

  TrainReport report;
  report.train_images = split.train.size();
  report.validation_images = split.validation.size();
  report.train_patients = CountPatients(split.train);
  report.validation_patients = CountPatients(split.validation);
  spdlog::info("event=split train_images={} train_patients={} validation_images={} validation_patients={}",
               report.train_images, report.train_patients, report.validation_images, report.validation_patients);

  const auto decode_started = Clock::now();
  auto train_cache = data::ImageCache::Build(split.train, options.input_size, threads);
  if (!train_cache) return std::unexpected(train_cache.error());
  auto val_cache = data::ImageCache::Build(split.validation, options.input_size, threads);
  if (!val_cache) return std::unexpected(val_cache.error());
  spdlog::info("event=cache_built seconds={:.1f} skipped={}", Seconds(decode_started),
               train_cache->skipped() + val_cache->skipped());

  const image::Normalization normalization = MeasureNormalization(*train_cache, options.normalization);
  std::size_t positives = 0;
  for (int y : train_cache->labels()) positives += static_cast<std::size_t>(y);
  const double n = static_cast<double>(train_cache->size());
  const double positive_weight = options.class_weighting ? n / (2.0 * std::max<double>(1, positives)) : 1.0;
  const double negative_weight = options.class_weighting ? n / (2.0 * std::max<double>(1, n - positives)) : 1.0;

  data::BatchLoader train_loader(*train_cache, {.batch_size = options.batch_size, .shuffle = true, .augment = true,
                                                .augment_options = options.augment, .normalization = normalization,
                                                .workers = options.loader_workers, .seed = options.seed});
  data::BatchLoader val_loader(*val_cache, {.batch_size = 64, .shuffle = false, .augment = false,
                                            .normalization = normalization, .workers = 1, .seed = options.seed});

  metrics::Registry registry;
  TrainMetrics gauges(registry);
  std::unique_ptr<metrics::Exporter> exporter;
  if (options.metrics_port >= 0) {
    auto started_exporter = metrics::Exporter::Start(registry, options.metrics_host, options.metrics_port);
    if (!started_exporter) return std::unexpected(started_exporter.error());
    exporter = std::move(*started_exporter);
    spdlog::info("event=metrics_listening port={}", exporter->port());
  }

  torch::optim::AdamW optimizer(
      {torch::optim::OptimizerParamGroup(model::DecayedParameters(net),
                                         std::make_unique<torch::optim::AdamWOptions>(options.learning_rate)),
       torch::optim::OptimizerParamGroup(model::UndecayedParameters(net),
                                         std::make_unique<torch::optim::AdamWOptions>(options.learning_rate))},
      torch::optim::AdamWOptions(options.learning_rate));
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options()).weight_decay(options.weight_decay);
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[1].options()).weight_decay(0.0);

  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (ec) return Fail(ErrorCode::kIoError, "cannot create " + options.output_dir.string() + ": " + ec.message());
  const std::string best_path = (options.output_dir / model::kWeightsFile).string();

  double best_auc = -1, best_loss = 1e300;
  int epochs_without_gain = 0;
  const std::size_t steps_per_epoch = train_loader.batches_per_epoch();
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_started = Clock::now();
    net.train();
    train_loader.StartEpoch(epoch);
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options.epochs), steps_per_epoch,
                    options.progress);
    gauges.epoch.Set(epoch + 1);
    double loss_sum = 0;
    std::size_t seen = 0, step = 0;
    double lr = 0;
    while (auto batch = train_loader.Next()) {
      lr = ScheduledLearningRate(options, epoch + static_cast<double>(step) / steps_per_epoch);
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      std::vector<float> targets(batch->labels.begin(), batch->labels.end());
      std::vector<float> weights;
      for (int y : batch->labels) weights.push_back(static_cast<float>(y ? positive_weight : negative_weight));
      auto logits = net.forward(ToTensor(*batch, device));
      auto loss = torch::binary_cross_entropy_with_logits(logits, torch::tensor(targets).to(device),
                                                          torch::tensor(weights).to(device));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) return Fail(ErrorCode::kInternal, "training diverged (loss is not finite); lower --lr");
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
    Evaluation val = Evaluate(net, val_loader, device);
    const double auc = eval::RocAuc(val.logits, val.labels);
    std::vector<float> probs = eval::ApplyTemperature(val.logits, 1.0);
    const auto at_half = eval::ComputeMetrics(probs, val.labels, 0.5);
    EpochReport er{epoch + 1, loss_sum / std::max<double>(1, seen), val.loss, auc, lr,
                   static_cast<double>(seen) / train_seconds, Seconds(epoch_started)};
    report.epochs.push_back(er);
    gauges.val_auc.Set(auc);
    gauges.val_loss.Set(val.loss);
    gauges.val_accuracy.Set(at_half.accuracy);
    // Checkpoint on AUC; near-equal AUCs (within 0.0005, a few val images) are decided by loss.
    const bool better = auc > best_auc + 5e-4 || (auc > best_auc - 5e-4 && val.loss < best_loss);
    spdlog::info("event=epoch epoch={} train_loss={:.4f} val_loss={:.4f} val_auc={:.4f} val_acc@0.5={:.4f} "
                 "images_per_second={:.1f} seconds={:.0f}{}",
                 er.epoch, er.train_loss, er.validation_loss, auc, at_half.accuracy, er.images_per_second,
                 er.seconds, better ? " checkpoint=saved" : "");
    if (better) {
      if (auc > best_auc + 5e-4) epochs_without_gain = 0; else ++epochs_without_gain;
      best_auc = std::max(best_auc, auc);
      best_loss = val.loss;
      report.best_epoch = epoch + 1;
      gauges.best_auc.Set(best_auc);
      if (auto saved = model::SaveWeights(net, best_path); !saved) return std::unexpected(saved.error());
    } else if (++epochs_without_gain >= options.patience) {
      spdlog::info("event=early_stop epoch={} best_epoch={}", epoch + 1, report.best_epoch);
      break;
    }
  }

  // Calibrate the best checkpoint on validation.
  if (auto loaded = model::LoadWeights(net, best_path); !loaded) return std::unexpected(loaded.error());
  net.to(device);  // weights load onto the CPU
  Evaluation val = Evaluate(net, val_loader, device);
  const eval::ValidationCalibration calibrated = eval::CalibrateOnValidation(val.logits, val.labels);
  const eval::ThresholdChoice& choice = calibrated.threshold;
  report.temperature = calibrated.calibration.temperature;
  report.bias = calibrated.calibration.bias;
  report.threshold = choice.threshold;
  report.validation = calibrated.metrics;

  auto weight_bytes = image::ReadFileBytes(best_path, std::numeric_limits<std::size_t>::max());
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
  card.validation["split"] = {{"images", report.validation_images}, {"patients", report.validation_patients},
                              {"rule", "by patient, stratified by label, seeded"}};
  json epochs = json::array();
  for (const auto& e : report.epochs)
    epochs.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"validation_loss", e.validation_loss},
                      {"validation_auc", e.validation_auc}, {"learning_rate", e.learning_rate},
                      {"images_per_second", e.images_per_second}, {"seconds", e.seconds}});
  const auto& a = options.augment;
  card.training = {
      {"data", {{"directory", options.data_dir.filename().string()}, {"images", all.size()},
                {"fingerprint_sha256", *fingerprint}, {"train_images", report.train_images},
                {"train_patients", report.train_patients}}},
      {"seed", options.seed},
      {"epochs_run", report.epochs.size()}, {"best_epoch", report.best_epoch},
      {"options", {{"epochs", options.epochs}, {"batch_size", options.batch_size}, {"optimizer", "AdamW"},
                   {"learning_rate", options.learning_rate}, {"weight_decay", options.weight_decay},
                   {"schedule", "linear warm-up then cosine to 1%"}, {"warmup_epochs", options.warmup_epochs},
                   {"patience", options.patience}, {"validation_fraction", options.validation_fraction},
                   {"class_weighting", options.class_weighting}, {"positive_weight", positive_weight},
                   {"negative_weight", negative_weight}, {"threads", threads}, {"device", options.device}}},
      {"augmentation", {{"max_rotation_degrees", a.max_rotation_degrees}, {"max_shift", a.max_shift},
                        {"scale", {a.min_scale, a.max_scale}}, {"brightness", a.brightness},
                        {"contrast", a.contrast}, {"gamma", a.gamma}, {"blur_probability", a.blur_probability},
                        {"noise_std", a.noise_std}, {"horizontal_flip", false}}},
      {"history", epochs},
      {"seconds", Seconds(started)},
      {"date", NowIso8601()},
      {"pneumo_version", PNEUMO_VERSION},
      {"libtorch_version", TORCH_VERSION},
      {"command", options.command_line},
  };
  card.intended_use = {
      {"use", "Decision support: flags chest X-rays that may show pneumonia for a clinician to review."},
      {"population", "Trained on pediatric (1-5 years) anterior-posterior chest X-rays from one hospital "
                     "(Guangzhou Women and Children's Medical Center; Kermany et al. 2018)."},
      {"limits", "Not a diagnosis. Not validated on adults, lateral views, other hospitals or devices; does not "
                 "distinguish bacterial from viral pneumonia or detect other findings."}};
  if (auto saved = model::SaveModelCard(card, options.output_dir); !saved) return std::unexpected(saved.error());
  spdlog::info("event=train_done best_epoch={} val_auc={:.4f} val_accuracy={:.4f} temperature={:.3f} bias={:.3f} threshold={:.3f} seconds={:.0f}",
               report.best_epoch, report.validation.auc, report.validation.accuracy, report.temperature,
               report.bias, report.threshold, Seconds(started));
  return report;
}

}  // namespace pneumo::train
