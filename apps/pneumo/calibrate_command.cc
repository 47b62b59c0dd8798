#include <cstdio>
#include <ctime>

#include "apps/pneumo/commands.h"
#include "eval/calibration.h"
#include "infer/file_inference.h"
#include "model/predictor.h"

namespace pneumo::app {
namespace fs = std::filesystem;

void AddCalibrateCommand(CLI::App& app, int& exit_code) {
  struct Args {
    fs::path model = DefaultModelPath();
    fs::path data;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Refit a model's calibration and threshold on its own validation patients; rewrites card.json");
  cmd->add_option("--model", args->model, "Model directory to recalibrate")->capture_default_str();
  cmd->add_option("--data", args->data, "The training folder the model was trained on")->required();
  cmd->callback([args, &exit_code] {
    auto fail = [&](const Error& error) {
      std::fprintf(stderr, "pneumo calibrate: %s\n", error.ToString().c_str());
      exit_code = 2;
    };
    auto predictor = model::Predictor::Load(args->model);
    if (!predictor) return fail(predictor.error());
    model::ModelCard card = (*predictor)->card();
    auto images = ValidationImagesFor(card, args->data);
    if (!images) return fail(images.error());
    std::vector<fs::path> files;
    std::vector<int> labels;
    for (const auto& image : *images) {
      files.push_back(image.path);
      labels.push_back(image.label);
    }
    std::vector<float> logits;
    for (const auto& outcome : infer::PredictFiles(**predictor, files)) {
      if (outcome.error) return fail(*outcome.error);
      logits.push_back(outcome.logit);
    }
    const eval::ValidationCalibration fitted = eval::CalibrateOnValidation(logits, labels);
    card.temperature = fitted.calibration.temperature;
    card.bias = fitted.calibration.bias;
    card.threshold = fitted.threshold.threshold;
    card.threshold_rule = fitted.threshold.rule;
    const nlohmann::json split = card.validation.value("split", nlohmann::json::object());
    card.validation = eval::ToJson(fitted.metrics);
    card.validation["split"] = split;
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    card.training["calibration"] = {{"command", CommandLine()}, {"date", date}};
    if (auto saved = model::SaveModelCard(card, model::ModelDirectory(args->model)); !saved) return fail(saved.error());
    const auto& m = fitted.metrics;
    std::printf("recalibrated %s on %lld validation images: temperature %.4f  bias %.4f  threshold %.4f\n"
                "accuracy %.4f  AUC %.4f  sensitivity %.4f  specificity %.4f  ECE %.4f\n",
                model::ModelDirectory(args->model).c_str(), static_cast<long long>(m.n), card.temperature, card.bias,
                card.threshold, m.accuracy, m.auc, m.sensitivity, m.specificity, m.ece);
  });
}

}  // namespace pneumo::app
