#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/pneumo/commands.h"
#include "data/image_folder.h"
#include "eval/binary_metrics.h"
#include "eval/report.h"
#include "eval/stress_summary.h"
#include "infer/file_inference.h"
#include "infer/stress_evaluation.h"
#include "model/predictor.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

void PrintStressRow(const std::string& name, const eval::BinaryMetrics& m) {
  std::printf("%-20s %6.4f %6.4f %6.4f %6.4f %6.4f\n", name.c_str(), m.accuracy, m.auc,
              m.sensitivity, m.specificity, m.ece);
}

void PrintStressTable(const eval::StressSummary& stress) {
  std::printf("\nstress validation (threshold %.4f)\n%-20s %6s %6s %6s %6s %6s\n",
              stress.mean.threshold, "condition", "acc", "AUC", "sens", "spec", "ECE");
  for (const auto& row : stress.conditions) PrintStressRow(row.name, row.metrics);
  PrintStressRow("mean", stress.mean);
  PrintStressRow("worst", stress.worst);
  std::printf("worst case          ");
  for (const char* key : {"accuracy", "auc", "sensitivity", "specificity", "ece"})
    std::printf(" %s:%s", key, stress.worst_condition.at(key).c_str());
  std::printf("\n");
}

}  // namespace

void AddEvaluateCommand(CLI::App& app, int& exit_code) {
  struct Args {
    fs::path data;
    std::string split = "test";
    fs::path model = DefaultModelPath();
    bool json = false;
    fs::path report;
    int batch_size = 16;
    std::string part = "all";
    bool stress = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd =
      app.add_subcommand("evaluate", "Measure a model on a labelled folder (NORMAL/, PNEUMONIA/)");
  cmd->add_option("--data", args->data,
                  "Folder with NORMAL/ and PNEUMONIA/, or a parent with test/")
      ->required();
  cmd->add_option("--split", args->split, "Subfolder used when --data is a parent")
      ->capture_default_str();
  cmd->add_option("--model", args->model,
                  "Model directory (default: $PNEUMO_MODEL or the shipped model)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object on stdout");
  cmd->add_option("--report", args->report,
                  "Write an HTML report (ROC, calibration, confusion) to this folder");
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass")
      ->capture_default_str();
  cmd->add_option(
         "--part", args->part,
         "all, or validation: only the patients the model's training run held out (re-carved "
         "with the seed and fraction in its card), to reproduce the card's figures")
      ->check(CLI::IsMember({"all", "validation"}))
      ->capture_default_str();
  cmd->add_flag(
      "--stress", args->stress,
      "Also measure under every stress condition (acquisition shifts): a row per condition, the "
      "mean and the worst case");
  cmd->callback([args, &exit_code] {
    auto fail = [&](const Error& error) {
      std::fprintf(stderr, "pneumo evaluate: %s\n", error.ToString().c_str());
      exit_code = 2;
    };
    auto predictor = model::Predictor::Load(args->model);
    if (!predictor) return fail(predictor.error());
    auto images = args->part == "validation" ? ValidationImagesFor((*predictor)->card(), args->data)
                                             : data::ScanImageFolder(args->data, args->split);
    if (!images) return fail(images.error());
    std::vector<fs::path> files;
    std::vector<int> all_labels;
    for (const auto& image : *images) {
      files.push_back(image.path);
      all_labels.push_back(image.label);
    }
    const auto& card = (*predictor)->card();
    std::vector<float> probabilities;
    std::vector<int> labels;
    nlohmann::json failures = nlohmann::json::array();
    std::optional<eval::StressSummary> stress;
    std::vector<float> stressed_probabilities;
    std::vector<int> stressed_labels;
    if (args->stress) {
      auto run = infer::EvaluateUnderStress(
          **predictor, files, all_labels,
          // Seeded like the trainer's stress validation, so the figures can be compared.
          {.seed = card.split.recorded ? card.split.seed : infer::StressOptions{}.seed,
           .batch_size = args->batch_size});
      if (!run) return fail(run.error());
      for (const auto& [file, error] : run->failed)
        failures.push_back({{"file", file.string()}, {"error", error.ToString()}});
      std::vector<eval::ConditionMetrics> rows;
      for (std::size_t c = 0; c < run->conditions.size(); ++c) {
        std::vector<float> p;
        for (float logit : run->logits[c])
          p.push_back(model::CalibratedProbability(logit, card.temperature, card.bias));
        rows.push_back({run->conditions[c], eval::ComputeMetrics(p, run->labels, card.threshold)});
        if (c == 0) probabilities = p;
        stressed_probabilities.insert(stressed_probabilities.end(), p.begin(), p.end());
        stressed_labels.insert(stressed_labels.end(), run->labels.begin(), run->labels.end());
      }
      labels = run->labels;
      stress = eval::SummarizeStress(std::move(rows));
    } else {
      const auto outcomes =
          infer::PredictFiles(**predictor, files, {.batch_size = args->batch_size});
      for (std::size_t i = 0; i < outcomes.size(); ++i) {
        if (outcomes[i].error) {
          failures.push_back(
              {{"file", outcomes[i].file.string()}, {"error", outcomes[i].error->ToString()}});
          continue;
        }
        probabilities.push_back(outcomes[i].probability);
        labels.push_back((*images)[i].label);
      }
    }
    const eval::BinaryMetrics m = eval::ComputeMetrics(probabilities, labels, card.threshold);
    if (!args->report.empty()) {
      eval::ReportInput input{
          .title = "pneumo evaluation",
          .model_description = card.name + " " + card.version + " (" + card.architecture + ", " +
                               std::to_string(card.input_size) + " px)",
          .data_description = args->data.string() + " (" + std::to_string(m.n) + " images)",
          .metrics = m,
          .roc = eval::RocCurve(probabilities, labels),
          .reliability = eval::ReliabilityBins(probabilities, labels)};
      if (stress) {
        input.stress = *stress;
        input.stressed_reliability = eval::ReliabilityBins(stressed_probabilities, stressed_labels);
        input.stressed_ece =
            eval::ExpectedCalibrationError(stressed_probabilities, stressed_labels);
      }
      if (auto written = eval::WriteReport(args->report, input); !written)
        return fail(written.error());
    }
    if (args->json) {
      nlohmann::json out = eval::ToJson(m);
      out["model"] = {{"name", card.name}, {"version", card.version}};
      out["failed"] = failures;
      if (stress) out["stress"] = eval::ToJson(*stress);
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("model        %s %s\nimages       %lld (%zu unreadable)\n", card.name.c_str(),
                  card.version.c_str(), static_cast<long long>(m.n), failures.size());
      std::printf(
          "accuracy     %.4f\nsensitivity  %.4f\nspecificity  %.4f\nprecision    %.4f\nF1          "
          " %.4f\n"
          "ROC AUC      %.4f\nECE          %.4f\nthreshold    %.4f\n",
          m.accuracy, m.sensitivity, m.specificity, m.precision, m.f1, m.auc, m.ece, m.threshold);
      std::printf("confusion    TP %lld  FN %lld\n             FP %lld  TN %lld\n",
                  static_cast<long long>(m.confusion.tp), static_cast<long long>(m.confusion.fn),
                  static_cast<long long>(m.confusion.fp), static_cast<long long>(m.confusion.tn));
      if (stress) PrintStressTable(*stress);
      if (!args->report.empty())
        std::printf("report       %s\n", (args->report / "index.html").c_str());
    }
    for (const auto& f : failures)
      std::fprintf(stderr, "unreadable: %s\n", f["error"].get<std::string>().c_str());
  });
}

}  // namespace pneumo::app
