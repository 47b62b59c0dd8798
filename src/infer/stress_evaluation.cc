#include "infer/stress_evaluation.h"

#include <algorithm>

#include "core/parallel_for.h"
#include "data/stress.h"
#include "image/decode.h"

namespace pneumo::infer {

Result<StressRun> EvaluateUnderStress(model::Predictor& predictor,
                                      const std::vector<std::filesystem::path>& files,
                                      const std::vector<int>& labels,
                                      const StressOptions& options) {
  if (files.size() != labels.size())
    return Fail(ErrorCode::kInvalidArgument, "one label per file is needed");
  std::vector<Result<cv::Mat>> decoded(files.size(), Fail(ErrorCode::kInternal, "not decoded"));
  auto decoding = ParallelFor(0, files.size(), options.threads, [&](std::size_t i) {
    decoded[i] = image::DecodeImageFile(files[i]);
  });
  if (!decoding) return std::unexpected(decoding.error());

  StressRun run;
  std::vector<std::size_t> good;  // positions in `files`, which also seed the shifts
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (decoded[i]) {
      good.push_back(i);
      run.labels.push_back(labels[i]);
    } else {
      run.failed.emplace_back(files[i], decoded[i].error());
    }
  }
  if (good.empty()) return Fail(ErrorCode::kCorruptInput, "no image could be decoded");

  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  for (const data::StressCondition& condition : data::StressConditions()) {
    run.conditions.emplace_back(condition.name);
    std::vector<cv::Mat> prepared(good.size());
    auto shifting = ParallelFor(0, good.size(), options.threads, [&](std::size_t k) {
      const std::size_t i = good[k];
      prepared[k] = predictor.Prepare(
          data::ApplyStress(condition, *decoded[i], data::StressSeed(options.seed, i)));
    });
    if (!shifting) return std::unexpected(shifting.error());
    std::vector<float> logits, scores;
    for (std::size_t begin = 0; begin < prepared.size(); begin += batch) {
      const std::span<const cv::Mat> chunk(prepared.data() + begin,
                                           std::min(batch, prepared.size() - begin));
      auto outputs = predictor.Predict(chunk);
      if (!outputs) return std::unexpected(outputs.error());
      for (const auto& o : *outputs) {
        logits.push_back(o.logit);
        scores.push_back(o.ood_score);
      }
      if (options.features && condition.name == "clean") {
        auto features = predictor.Features(chunk);
        if (!features) return std::unexpected(features.error());
        run.clean_features.resize(features->size());
        for (std::size_t m = 0; m < features->size(); ++m)
          for (auto& f : (*features)[m]) run.clean_features[m].push_back(std::move(f));
      }
    }
    run.logits.push_back(std::move(logits));
    run.ood_scores.push_back(std::move(scores));
  }
  return run;
}

}  // namespace pneumo::infer
