#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/pneumo/commands.h"
#include "core/file_bytes.h"
#include "core/parallel_for.h"
#include "data/image_folder.h"
#include "http/api_json.h"
#include "image/decode.h"
#include "infer/file_inference.h"
#include "model/predictor.h"
#include "serving/prediction_service.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

// One failed file in --json output.
nlohmann::json FileErrorJson(const fs::path& file, const Error& error) {
  return {{"file", file.string()},
          {"error", {{"code", ErrorCodeName(error.code)}, {"message", error.message}}}};
}

// --store: every file goes through the server's own path (decode, batch, review, preview, store),
// so a history filled from a folder is indistinguishable from one filled by uploads.
int PredictIntoStore(const std::vector<fs::path>& files, const fs::path& model_path,
                     const std::string& store_url, bool json) {
  auto predictor = model::Predictor::Load(model_path);
  if (!predictor) {
    std::fprintf(stderr, "pneumo predict: %s\n", predictor.error().ToString().c_str());
    return 2;
  }
  auto explainer =
      model::Predictor::Load(model_path, 1);  // the service's heatmap copy; unused here
  if (!explainer) {
    std::fprintf(stderr, "pneumo predict: %s\n", explainer.error().ToString().c_str());
    return 2;
  }
  auto store = store::OpenStore(store_url);
  if (!store) {
    std::fprintf(stderr, "pneumo predict: %s\n", store.error().ToString().c_str());
    return 2;
  }
  metrics::Registry registry;
  auto service = serving::PredictionService::Create(std::move(*predictor), std::move(*explainer),
                                                    std::move(*store), {}, registry);
  if (!service) {
    std::fprintf(stderr, "pneumo predict: %s\n", service.error().ToString().c_str());
    return 2;
  }
  std::vector<nlohmann::json> results(files.size());
  // Several files in flight at once, so the service's batcher has company to batch.
  ParallelFor(0, files.size(), 8, [&](std::size_t i) {
    auto bytes = ReadFileBytes(files[i], image::DecodeLimits{}.max_bytes);
    if (!bytes) {
      results[i] = FileErrorJson(files[i], bytes.error());
      return;
    }
    auto record = (*service)->Predict(*bytes, files[i].filename().string());
    if (!record) {
      results[i] = FileErrorJson(files[i], record.error());
      return;
    }
    results[i] = http::PredictionJson(*record);
    results[i]["file"] = files[i].string();
  });
  std::size_t failed = 0;
  if (!json)
    std::printf("%-10s %11s %9s  %-26s  %s\n", "LABEL", "PROBABILITY", "THRESHOLD", "ID", "FILE");
  for (const auto& r : results) {
    failed += r.contains("error");
    if (json) continue;
    if (r.contains("error")) {
      std::printf("%-10s %11s %9s  %-26s  %s  (%s)\n", "ERROR", "-", "-", "-",
                  r["file"].get<std::string>().c_str(),
                  r["error"]["message"].get<std::string>().c_str());
    } else {
      std::printf("%-10s %11.4f %9.4f  %-26s  %s\n", r["label"].get<std::string>().c_str(),
                  r["probability"].get<double>(), r["threshold"].get<double>(),
                  r["id"].get<std::string>().c_str(), r["file"].get<std::string>().c_str());
    }
  }
  if (json) std::printf("%s\n", http::JsonText(results).c_str());
  std::fprintf(stderr, "pneumo predict: stored %zu of %zu predictions in %s\n",
               results.size() - failed, results.size(), (*service)->store().Describe().c_str());
  if (failed) {
    std::fprintf(stderr, "pneumo predict: %zu of %zu files failed\n", failed, results.size());
    return 1;
  }
  return 0;
}

}  // namespace

void AddPredictCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::vector<fs::path> inputs;
    fs::path model = DefaultModelPath();
    bool json = false;
    int batch_size = 16;
    std::string store;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Predict pneumonia for image files or folders (JPEG, PNG, DICOM)");
  cmd->add_option("inputs", args->inputs, "Files or folders (folders are searched recursively)")
      ->required();
  cmd->add_option("--model", args->model,
                  "Model directory (default: $PNEUMO_MODEL or the shipped model)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print a JSON array, one object per file");
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass")
      ->capture_default_str();
  cmd->add_option(
      "--store", args->store,
      "Also keep every prediction (with its preview) in this store, as pneumo serve does: "
      "sqlite:PATH or redis://[:password@]host[:port][/db]");
  cmd->callback([args, &exit_code] {
    if (!args->store.empty()) {
      const auto files = infer::ExpandInputs(args->inputs);
      if (files.empty()) {
        std::fprintf(stderr, "pneumo predict: no image files found in the given folders\n");
        exit_code = 2;
        return;
      }
      exit_code = PredictIntoStore(files, args->model, args->store, args->json);
      return;
    }
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
    if (!args->json)
      std::printf("%-10s %11s %9s  %s\n", "LABEL", "PROBABILITY", "THRESHOLD", "FILE");
    for (const auto& o : outcomes) {
      if (o.error) {
        ++failed;
        if (args->json) {
          out.push_back(FileErrorJson(o.file, *o.error));
        } else {
          std::printf("%-10s %11s %9s  %s  (%s)\n", "ERROR", "-", "-", o.file.c_str(),
                      o.error->ToString().c_str());
        }
        continue;
      }
      const int label = o.probability >= threshold ? data::kPneumonia : data::kNormal;
      if (args->json) {
        nlohmann::json row{{"file", o.file.string()},
                           {"label", data::LabelName(label)},
                           {"probability", o.probability},
                           {"threshold", threshold}};
        if ((*predictor)->has_ood_statistics()) {
          row["ood_score"] = o.ood_score;
          row["out_of_distribution"] = o.out_of_distribution;
        }
        out.push_back(row);
      } else {
        std::printf("%-10s %11.4f %9.4f  %s%s\n", std::string(data::LabelName(label)).c_str(),
                    o.probability, threshold, o.file.c_str(),
                    o.out_of_distribution ? "  (does not look like a frontal chest X-ray)" : "");
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
