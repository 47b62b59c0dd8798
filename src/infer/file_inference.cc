#include "infer/file_inference.h"

#include <algorithm>

#include "core/parallel_for.h"
#include "data/image_folder.h"
#include "image/decode.h"

namespace pneumo::infer {
namespace fs = std::filesystem;

std::vector<fs::path> ExpandInputs(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (!fs::is_directory(input, ec)) {
      files.push_back(input);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& entry : fs::recursive_directory_iterator(input, ec)) {
      if (entry.is_regular_file() && data::HasImageExtension(entry.path()))
        found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::vector<FileOutcome> PredictFiles(model::Predictor& predictor,
                                      const std::vector<fs::path>& files,
                                      const FileInferenceOptions& options) {
  std::vector<FileOutcome> outcomes(files.size());
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  for (std::size_t begin = 0; begin < files.size(); begin += batch) {
    const std::size_t end = std::min(files.size(), begin + batch);
    std::vector<cv::Mat> prepared(end - begin);
    auto done = ParallelFor(begin, end, options.decode_threads, [&](std::size_t i) {
      outcomes[i].file = files[i];
      auto gray = image::DecodeImageFile(files[i]);
      if (!gray) {
        outcomes[i].error = gray.error();
      } else {
        prepared[i - begin] = predictor.Prepare(*gray);
      }
    });
    // A decoder that threw fails the files of this chunk it did not finish; the others go on.
    for (std::size_t i = begin; !done && i < end; ++i) {
      outcomes[i].file = files[i];
      if (!outcomes[i].error && prepared[i - begin].empty()) outcomes[i].error = done.error();
    }
    std::vector<cv::Mat> good;
    std::vector<std::size_t> where;
    for (std::size_t i = begin; i < end; ++i) {
      if (!outcomes[i].error) {
        good.push_back(prepared[i - begin]);
        where.push_back(i);
      }
    }
    auto predicted = predictor.Predict(good);
    for (std::size_t k = 0; k < where.size(); ++k) {
      FileOutcome& o = outcomes[where[k]];
      if (!predicted) {
        o.error = predicted.error();
      } else {
        o.logit = (*predicted)[k].logit;
        o.probability = (*predicted)[k].probability;
        o.ood_score = (*predicted)[k].ood_score;
        o.out_of_distribution = (*predicted)[k].out_of_distribution;
      }
    }
  }
  return outcomes;
}

Result<std::vector<std::vector<std::vector<float>>>> FileFeatures(
    model::Predictor& predictor, const std::vector<fs::path>& files,
    const FileInferenceOptions& options, std::vector<std::size_t>* kept) {
  std::vector<std::vector<std::vector<float>>> out(predictor.member_count());
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  for (std::size_t begin = 0; begin < files.size(); begin += batch) {
    const std::size_t end = std::min(files.size(), begin + batch);
    std::vector<cv::Mat> prepared(end - begin);
    auto done = ParallelFor(begin, end, options.decode_threads, [&](std::size_t i) {
      if (auto gray = image::DecodeImageFile(files[i]))
        prepared[i - begin] = predictor.Prepare(*gray);
    });
    if (!done) return std::unexpected(done.error());
    std::vector<cv::Mat> good;
    for (std::size_t i = begin; i < end; ++i) {
      if (prepared[i - begin].empty()) continue;
      good.push_back(prepared[i - begin]);
      if (kept) kept->push_back(i);
    }
    auto features = predictor.Features(good);
    if (!features) return std::unexpected(features.error());
    for (std::size_t m = 0; m < out.size(); ++m)
      for (auto& f : (*features)[m]) out[m].push_back(std::move(f));
  }
  return out;
}

}  // namespace pneumo::infer
