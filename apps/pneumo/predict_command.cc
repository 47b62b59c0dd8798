#include <nlohmann/json.hpp>

#include <cstdio>

#include "apps/pneumo/commands.h"
#include "data/image_folder.h"
#include "infer/file_inference.h"
#include "model/predictor.h"

namespace pneumo::app {
namespace fs = std::filesystem;

void AddPredictCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::vector<fs::path> inputs;
    fs::path model = DefaultModelPath();
    bool json = false;
    int batch_size = 16;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("predict", "Predict pneumonia for image files or folders (JPEG, PNG, DICOM)");
  cmd->add_option("inputs", args->inputs, "Files or folders (folders are searched recursively)")->required();
  cmd->add_option("--model", args->model, "Model directory (default: $PNEUMO_MODEL or the shipped model)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print a JSON array, one object per file");
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass")->capture_default_str();
  cmd->callback([args, &exit_code] {
    auto predictor = model::Predictor::Load(args->model);
    if (!predictor) {
      std::fprintf(stderr, "pneumo predict: %s\n", predictor.error().ToString().c_str());
      exit_code = 2;
      return;
    }
    const auto files = infer::ExpandInputs(args->inputs);
    if (files.empty()) {
      std::fprintf(stderr, "pneumo predict: no image files found in the given folders\n");
      exit_code = 2;
      return;
    }
    const double threshold = (*predictor)->card().threshold;
    const auto outcomes = infer::PredictFiles(**predictor, files, {.batch_size = args->batch_size});
    std::size_t failed = 0;
    nlohmann::json out = nlohmann::json::array();
    if (!args->json) std::printf("%-10s %11s %9s  %s\n", "LABEL", "PROBABILITY", "THRESHOLD", "FILE");
    for (const auto& o : outcomes) {
      if (o.error) {
        ++failed;
        if (args->json) {
          out.push_back({{"file", o.file.string()},
                         {"error", {{"code", ErrorCodeName(o.error->code)}, {"message", o.error->message}}}});
        } else {
          std::printf("%-10s %11s %9s  %s  (%s)\n", "ERROR", "-", "-", o.file.c_str(), o.error->ToString().c_str());
        }
        continue;
      }
      const int label = o.probability >= threshold ? data::kPneumonia : data::kNormal;
      if (args->json) {
        out.push_back({{"file", o.file.string()}, {"label", data::LabelName(label)},
                       {"probability", o.probability}, {"threshold", threshold}});
      } else {
        std::printf("%-10s %11.4f %9.4f  %s\n", std::string(data::LabelName(label)).c_str(), o.probability,
                    threshold, o.file.c_str());
      }
    }
    if (args->json) std::printf("%s\n", out.dump(2).c_str());
    if (failed) {
      std::fprintf(stderr, "pneumo predict: %zu of %zu files failed\n", failed, outcomes.size());
      exit_code = 1;
    }
  });
}

}  // namespace pneumo::app
