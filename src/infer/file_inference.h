// Runs a Predictor over files: decodes them on worker threads, batches the forward passes, and
// reports each file's outcome separately so that one bad file does not stop the rest.
//
//   auto outcomes = PredictFiles(*predictor, files, {.batch_size = 16});
//   for (const auto& o : outcomes) o.error ? report(o.error) : use(o.probability);
//
// Thread-safety: like the Predictor it drives, one caller at a time.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "core/error.h"
#include "model/predictor.h"

namespace pneumo::infer {

struct FileOutcome {
  std::filesystem::path file;
  float logit = 0;
  float probability = 0;  // calibrated P(pneumonia); valid when !error
  float ood_score = 0;    // see Predictor::Output
  bool out_of_distribution = false;
  std::optional<Error> error;  // what is wrong with this file
};

struct FileInferenceOptions {
  int batch_size = 16;
  int decode_threads = 2;
};

// Outcomes in the order of `files`.
std::vector<FileOutcome> PredictFiles(model::Predictor& predictor,
                                      const std::vector<std::filesystem::path>& files,
                                      const FileInferenceOptions& options = {});

// Pooled features of each file ([member][file][feature]) for fitting OOD statistics; files that
// do not decode are left out and counted in `skipped` when given.
Result<std::vector<std::vector<std::vector<float>>>> FileFeatures(
    model::Predictor& predictor, const std::vector<std::filesystem::path>& files,
    const FileInferenceOptions& options = {}, std::vector<std::size_t>* kept = nullptr);

// Expands directories (recursively, image extensions only, sorted) and keeps plain files as given;
// a path that does not exist is kept so that PredictFiles reports it as not found.
std::vector<std::filesystem::path> ExpandInputs(const std::vector<std::filesystem::path>& inputs);

}  // namespace pneumo::infer
