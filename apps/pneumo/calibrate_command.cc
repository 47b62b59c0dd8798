#include <algorithm>
#include <cstdio>
#include <ctime>

#include "apps/pneumo/commands.h"
#include "core/file_bytes.h"
#include "core/logging.h"
#include "core/sha256.h"
#include "eval/calibration.h"
#include "eval/stress_summary.h"
#include "image/decode.h"
#include "infer/file_inference.h"
#include "infer/stress_evaluation.h"
#include "model/ood.h"
#include "model/predictor.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

// The value below which `fraction` of the scores lie (nearest rank).
double Percentile(std::vector<float> scores, double fraction) {
  if (scores.empty()) return 0;
  std::sort(scores.begin(), scores.end());
  const auto rank =
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(scores.size())));
  return scores[std::clamp<std::size_t>(rank, 1, scores.size()) - 1];
}

double FractionAbove(const std::vector<float>& scores, double threshold) {
  if (scores.empty()) return 0;
  return static_cast<double>(
             std::count_if(scores.begin(), scores.end(), [&](float s) { return s > threshold; })) /
         static_cast<double>(scores.size());
}

// Fits the OOD statistics on the training patients' clean images and writes ood.pt.
Result<void> FitOod(model::Predictor& predictor, model::ModelCard& card, const fs::path& dir,
                    const data::Split& split) {
  std::vector<fs::path> files;
  files.reserve(split.train.size());
  for (const auto& image : split.train) files.push_back(image.path);
  std::vector<std::size_t> kept;
  auto features = infer::FileFeatures(predictor, files, {.batch_size = 32}, &kept);
  if (!features) return std::unexpected(features.error());
  std::vector<int> labels;
  labels.reserve(kept.size());
  for (std::size_t i : kept) labels.push_back(split.train[i].label);
  std::vector<model::OodStatistics> stats;
  for (const auto& member : *features) {
    auto fitted = model::FitOodStatistics(member, labels);
    if (!fitted) return std::unexpected(fitted.error());
    stats.push_back(std::move(*fitted));
  }
  const fs::path file = dir / model::kOodFile;
  if (auto saved = model::SaveOodStatistics(stats, file); !saved) return saved;
  auto bytes = ReadFileBytes(file, std::size_t{1} << 30);
  if (!bytes) return std::unexpected(bytes.error());
  card.ood.file = model::kOodFile;
  card.ood.sha256 = Sha256Hex(*bytes);
  card.ood.threshold = 1e30;  // chosen below, once the scores of the validation images are known
  card.ood.fit = {{"train_images", labels.size()},
                  {"shrinkage", 0.1},
                  {"features", "global average pool of the last convolution, per member"}};
  return {};
}

}  // namespace

Result<void> Recalibrate(const fs::path& model_path, const fs::path& data_dir, bool fit_ood,
                         double ood_percentile) {
  const fs::path dir = model::ModelDirectory(model_path);
  auto predictor = model::Predictor::Load(model_path);
  if (!predictor) return std::unexpected(predictor.error());
  model::ModelCard card = (*predictor)->card();
  auto split = TrainingSplitFor(card, data_dir);
  if (!split) return std::unexpected(split.error());
  if (fit_ood) {
    if (auto fitted = FitOod(**predictor, card, dir, *split); !fitted)
      return std::unexpected(fitted.error());
    if (auto saved = model::SaveModelCard(card, dir); !saved) return std::unexpected(saved.error());
    predictor = model::Predictor::Load(model_path);  // now with the new statistics
    if (!predictor) return std::unexpected(predictor.error());
  }
  std::vector<fs::path> files;
  std::vector<int> labels;
  for (const auto& image : split->validation) {
    files.push_back(image.path);
    labels.push_back(image.label);
  }
  auto run = infer::EvaluateUnderStress(**predictor, files, labels, {.seed = card.split.seed});
  if (!run) return std::unexpected(run.error());
  if (!run->failed.empty()) return std::unexpected(run->failed.front().second);
  std::vector<float> pooled;
  std::vector<int> pooled_labels;
  for (const auto& logits : run->logits) {
    pooled.insert(pooled.end(), logits.begin(), logits.end());
    pooled_labels.insert(pooled_labels.end(), run->labels.begin(), run->labels.end());
  }
  const eval::ValidationCalibration fitted = eval::CalibrateOnValidation(pooled, pooled_labels);
  card.temperature = fitted.calibration.temperature;
  card.bias = fitted.calibration.bias;
  card.threshold = fitted.threshold.threshold;
  card.threshold_rule =
      fitted.threshold.rule + " (on the stress validation, all conditions pooled)";
  std::vector<eval::ConditionMetrics> rows;
  for (std::size_t c = 0; c < run->conditions.size(); ++c) {
    const auto probabilities = eval::ApplyCalibration(run->logits[c], fitted.calibration);
    rows.push_back(
        {run->conditions[c], eval::ComputeMetrics(probabilities, run->labels, card.threshold)});
  }
  const eval::StressSummary stress = eval::SummarizeStress(rows);
  const nlohmann::json split_json = card.validation.value("split", nlohmann::json::object());
  const nlohmann::json stress_rule =
      card.validation.value("stress", nlohmann::json::object()).value("rule", "");
  card.validation = eval::ToJson(rows.front().metrics);
  card.validation["split"] = split_json;
  card.validation["stress"] = eval::ToJson(stress);
  card.validation["stress"]["rule"] = stress_rule;
  if (fit_ood) {
    const std::vector<float>& clean = run->ood_scores.front();
    card.ood.threshold = Percentile(clean, ood_percentile);
    std::vector<float> stressed;
    for (std::size_t c = 1; c < run->ood_scores.size(); ++c)
      stressed.insert(stressed.end(), run->ood_scores[c].begin(), run->ood_scores[c].end());
    card.ood.rule = "the " + std::to_string(ood_percentile).substr(0, 5) +
                    " quantile of the clean validation X-rays' scores";
    card.ood.fit["percentile"] = ood_percentile;
    card.ood.fit["validation_flagged"] = FractionAbove(clean, card.ood.threshold);
    card.ood.fit["stressed_validation_flagged"] = FractionAbove(stressed, card.ood.threshold);
    card.ood.fit["validation_median_score"] = Percentile(clean, 0.5);
  }
  card.training["calibration"] = {{"command", CommandLine()}, {"date", UtcNow()}};
  if (auto saved = model::SaveModelCard(card, dir); !saved) return std::unexpected(saved.error());
  const auto& m = rows.front().metrics;
  std::printf(
      "recalibrated %s on %lld validation images x %zu stress conditions: temperature %.4f  bias "
      "%.4f  "
      "threshold %.4f\n"
      "clean: accuracy %.4f  AUC %.4f  sensitivity %.4f  specificity %.4f  ECE %.4f\n"
      "stress mean: accuracy %.4f  AUC %.4f  sensitivity %.4f  specificity %.4f  ECE %.4f\n"
      "stress worst: accuracy %.4f  AUC %.4f  sensitivity %.4f  specificity %.4f  ECE %.4f\n",
      dir.c_str(), static_cast<long long>(m.n), run->conditions.size(), card.temperature, card.bias,
      card.threshold, m.accuracy, m.auc, m.sensitivity, m.specificity, m.ece, stress.mean.accuracy,
      stress.mean.auc, stress.mean.sensitivity, stress.mean.specificity, stress.mean.ece,
      stress.worst.accuracy, stress.worst.auc, stress.worst.sensitivity, stress.worst.specificity,
      stress.worst.ece);
  if (fit_ood)
    std::printf(
        "ood: threshold %.4f  clean validation flagged %.4f  stressed validation flagged %.4f\n",
        card.ood.threshold, card.ood.fit["validation_flagged"].get<double>(),
        card.ood.fit["stressed_validation_flagged"].get<double>());
  return {};
}

void AddCalibrateCommand(CLI::App& app, int& exit_code) {
  struct Args {
    fs::path model = DefaultModelPath();
    fs::path data;
    bool ood = true;
    double ood_percentile = 0.99;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("calibrate",
                                     "Refit a model's calibration, threshold and OOD statistics on "
                                     "its own training and validation patients "
                                     "(the stress validation); rewrites card.json");
  cmd->add_option("--model", args->model, "Model directory to recalibrate")->capture_default_str();
  cmd->add_option("--data", args->data, "The training folder the model was trained on")->required();
  cmd->add_flag("!--no-ood", args->ood, "Keep the OOD statistics as they are");
  cmd->add_option("--ood-percentile", args->ood_percentile,
                  "OOD threshold: this quantile of the clean validation X-rays' scores")
      ->check(CLI::Range(0.5, 1.0))
      ->capture_default_str();
  cmd->callback([args, &exit_code] {
    if (auto done = Recalibrate(args->model, args->data, args->ood, args->ood_percentile); !done) {
      std::fprintf(stderr, "pneumo calibrate: %s\n", done.error().ToString().c_str());
      exit_code = 2;
    }
  });
}

}  // namespace pneumo::app
