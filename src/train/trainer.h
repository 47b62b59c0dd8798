// Trains a network from an image folder and exports it as a model directory (weights + card).
//
//   TrainOptions options;
//   options.data_dir = "../shared/data/chest_xray";
//   options.output_dir = "models/mine";
//   auto report = Train(options);   // Result<TrainReport>; the model is in options.output_dir
//
// Steps: scan, split by patient (seeded, stratified), decode once into memory, train with
// augmentation on worker threads (random resized crops, intensity jitter), keep an exponential
// moving average of the weights, checkpoint on the stress validation (the validation patients
// under data/stress.h's acquisition shifts), stop early, then fit the calibration and choose the
// threshold on the whole stress validation, and write the card.
// Blocking; runs on the calling thread plus loader threads; LibTorch uses `threads` cores.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/augment.h"
#include "eval/binary_metrics.h"
#include "eval/stress_summary.h"

namespace pneumo::train {

// The 2.0 recipe: random resized crops over 35-100% of the area, stronger intensity jitter and
// occasional sharpening on top of the 1.0.0 geometry (see the README's ablation table).
inline data::AugmentOptions RobustAugmentation() {
  data::AugmentOptions a;
  a.max_rotation_degrees = 10.0;
  a.max_shift = 0.05;
  a.min_scale = 0.85;
  a.max_scale = 1.15;
  a.brightness = 0.15;
  a.contrast = 0.35;
  a.gamma = 0.5;
  a.blur_probability = 0.25;
  a.noise_std = 0.03;
  a.crop_probability = 0.9;
  a.min_crop_area = 0.35;
  a.max_crop_aspect = 4.0 / 3.0;
  a.sharpen_probability = 0.2;
  a.border_probability = 0.3;
  a.max_border = 0.15;
  return a;
}

struct TrainOptions {
  std::filesystem::path data_dir;    // ImageFolder, or a parent with train/
  std::filesystem::path output_dir;  // model directory written at the end (and checkpoints)
  std::string architecture = "pneumonet";
  int input_size = 192;  // square side the network sees (192: 2x faster than 224 on CPU)
  std::string normalization = "per_image";  // or "dataset"
  std::string equalization = "none";        // or "clahe": see image::Normalization
  std::string borders = "uniform";          // or "none": see image::Normalization
  int cache_side = 224;                     // images held at this side for crops (0: input_size)
  int epochs = 24;
  int batch_size = 32;
  double learning_rate = 2e-3;        // peak, AdamW
  double weight_decay = 0.02;         // L2 on conv/linear weights (decoupled, AdamW)
  int warmup_epochs = 1;              // linear warm-up, then cosine decay to 1% of peak
  double validation_fraction = 0.15;  // of patients, per class
  int patience = 8;                   // epochs without validation AUC gain before stopping
  std::uint64_t seed = 42;            // initial weights, batch order, augmentation
  std::uint64_t split_seed = 42;      // which patients validate: the same for every ensemble member
  double ema_decay = 0.998;           // weight EMA evaluated and exported (0: the raw weights)
  int stress_per_image = 4;           // shifted copies per validation image for checkpointing
  bool class_weighting = true;        // weight samples by N / (2 * N_class)
  data::AugmentOptions augment = RobustAugmentation();
  std::string device = "cpu";  // "cpu" or "cuda" (needs a CUDA build of LibTorch)
  int threads = 0;             // LibTorch intra-op threads; 0 = all cores
  int loader_workers = 1;
  std::size_t max_images = 0;  // use a seeded subset of this many (0 = all): smoke runs
  int metrics_port = -1;       // Prometheus endpoint on this port (-1 = none)
  std::string metrics_host = "0.0.0.0";
  bool progress = true;
  std::string model_name = "pneumo-pneumonet";
  std::string model_version = "1.0.0";
  std::string command_line;  // recorded in the card
};

struct EpochReport {
  int epoch = 0;
  double train_loss = 0;
  double validation_loss = 0;
  double validation_auc = 0;
  double stress_auc = 0;  // mean over conditions of the checkpointing sample's AUC
  double learning_rate = 0;
  double images_per_second = 0;
  double seconds = 0;
};

struct TrainReport {
  std::vector<EpochReport> epochs;
  int best_epoch = 0;
  eval::BinaryMetrics validation;  // best checkpoint, calibrated, at the chosen threshold (clean)
  eval::StressSummary stress;      // the same checkpoint under every stress condition
  double temperature = 1.0;
  double bias = 0.0;
  double threshold = 0.5;
  std::size_t train_images = 0, validation_images = 0;
  std::size_t train_patients = 0, validation_patients = 0;
};

Result<TrainReport> Train(const TrainOptions& options);

}  // namespace pneumo::train
