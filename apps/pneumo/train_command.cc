#include <cstdio>

#include "apps/pneumo/commands.h"
#include "core/logging.h"
#include "train/trainer.h"

namespace pneumo::app {

void AddTrainCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<train::TrainOptions>();
  options->output_dir = "models/trained";
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a model on an image folder and export it with its model card");
  cmd->add_option("--data", options->data_dir,
                  "Folder with NORMAL/ and PNEUMONIA/ (or a parent with train/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", options->output_dir, "Model directory to write (weights.pt, card.json)")
      ->capture_default_str();
  cmd->add_option("--arch", options->architecture, "pneumonet | resnet50 | tiny")
      ->capture_default_str();
  cmd->add_option("--input-size", options->input_size, "Square input side in pixels")
      ->capture_default_str();
  cmd->add_option("--normalization", options->normalization, "per_image | dataset")
      ->capture_default_str();
  cmd->add_option("--equalization", options->equalization,
                  "none | clahe (before normalisation, everywhere)")
      ->check(CLI::IsMember({"none", "clahe"}))
      ->capture_default_str();
  cmd->add_option("--borders", options->borders, "uniform (trim flat edge bands) | none")
      ->check(CLI::IsMember({"none", "uniform"}))
      ->capture_default_str();
  cmd->add_option("--border-probability", options->augment.border_probability,
                  "Flat edge bands augmentation")
      ->capture_default_str();
  cmd->add_option("--cache-side", options->cache_side,
                  "Side images are held at for crops (0 = input size)")
      ->capture_default_str();
  cmd->add_option("--split-seed", options->split_seed,
                  "Seed of the validation split (same for all ensemble members)")
      ->capture_default_str();
  cmd->add_option("--ema-decay", options->ema_decay, "Weight moving average (0 = off)")
      ->capture_default_str();
  cmd->add_option("--stress-per-image", options->stress_per_image,
                  "Shifted copies per validation image in the per-epoch stress sample")
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--augment",
         [options](const std::string& name) {
           options->augment = name == "v1" ? data::AugmentOptions{} : train::RobustAugmentation();
         },
         "robust (random resized crops, strong intensity jitter) | v1 (the 1.0.0 recipe)")
      ->check(CLI::IsMember({"robust", "v1"}))
      ->default_str("robust");
  cmd->add_option("--crop-probability", options->augment.crop_probability,
                  "Random resized crop probability")
      ->capture_default_str();
  cmd->add_option("--epochs", options->epochs, "Maximum epochs")->capture_default_str();
  cmd->add_option("--batch-size", options->batch_size)->capture_default_str();
  cmd->add_option("--lr", options->learning_rate, "Peak learning rate (AdamW)")
      ->capture_default_str();
  cmd->add_option("--weight-decay", options->weight_decay, "Decoupled L2 on weights")
      ->capture_default_str();
  cmd->add_option("--patience", options->patience,
                  "Early stopping: epochs without validation AUC gain")
      ->capture_default_str();
  cmd->add_option("--val-fraction", options->validation_fraction,
                  "Fraction of patients for validation")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed)->capture_default_str();
  cmd->add_option("--threads", options->threads, "LibTorch threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--device", options->device, "cpu, or cuda with a CUDA build of LibTorch")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--max-images", options->max_images, "Train on a seeded subset (0 = all)")
      ->capture_default_str();
  cmd->add_option("--metrics-port", options->metrics_port,
                  "Serve Prometheus metrics on this port (e.g. 8000)");
  cmd->add_option("--name", options->model_name, "Model name for the card")->capture_default_str();
  cmd->add_option("--version", options->model_version, "Model version for the card")
      ->capture_default_str();
  cmd->add_flag("!--no-progress", options->progress, "Hide the progress bar");
  cmd->callback([options, &exit_code] {
    options->command_line = CommandLine();
    auto report = train::Train(*options);
    if (!report) {
      std::fprintf(stderr, "pneumo train: %s\n", report.error().ToString().c_str());
      exit_code = 1;
      return;
    }
    const auto& m = report->validation;
    std::printf(
        "model written to %s\nvalidation (%lld images, best epoch %d): accuracy %.4f  AUC %.4f  "
        "sensitivity %.4f  specificity %.4f  ECE %.4f  threshold %.3f  temperature %.3f\n",
        options->output_dir.c_str(), static_cast<long long>(m.n), report->best_epoch, m.accuracy,
        m.auc, m.sensitivity, m.specificity, m.ece, report->threshold,
        report->temperature);  // bias: see card.json
  });
}

}  // namespace pneumo::app
