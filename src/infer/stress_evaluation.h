// A model under the stress validation: every image decoded once, then shifted by each of
// data/stress.h's conditions and predicted, so that a metric can be read per condition.
//
//   auto run = EvaluateUnderStress(*predictor, files, labels, {.seed = 42});
//   for (std::size_t c = 0; c < run->conditions.size(); ++c) use(run->logits[c], run->labels);
//
// Thread-safety: like the Predictor it drives, one caller at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/predictor.h"

namespace pneumo::infer {

struct StressOptions {
  std::uint64_t seed = 42;  // image i of the list gets data::StressSeed(seed, i)
  int batch_size = 32;
  int threads = 2;        // decoding and shifting
  bool features = false;  // also keep the clean images' pooled features (to fit OOD statistics)
};

struct StressRun {
  std::vector<std::string> conditions;         // data::StressConditions() names, "clean" first
  std::vector<std::vector<float>> logits;      // [condition][image], images that decoded
  std::vector<std::vector<float>> ood_scores;  // [condition][image]
  std::vector<int> labels;                     // [image]
  std::vector<std::vector<std::vector<float>>>
      clean_features;  // [member][image][feature] when asked
  std::vector<std::pair<std::filesystem::path, Error>> failed;  // left out of everything
};

// kCorruptInput when no image decodes; a failing forward pass ends the run with its error.
Result<StressRun> EvaluateUnderStress(model::Predictor& predictor,
                                      const std::vector<std::filesystem::path>& files,
                                      const std::vector<int>& labels,
                                      const StressOptions& options = {});

}  // namespace pneumo::infer
