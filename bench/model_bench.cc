// Times whole models as pneumo serves them: Predictor::Predict (every member's forward pass, the
// averaged logit, the calibration and the OOD score) at batch 1 and 16, and the OOD score on its
// own. Prints one JSON object per model.
//
//   build/bench/model_bench --threads 1 models/default /tmp/ens/m1
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <vector>

#include "model/ood.h"
#include "model/predictor.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models;
  int threads = 1, repeats = 30;
  CLI::App app{"model benchmark"};
  app.add_option("models", models, "Model directories")->required();
  app.add_option("--threads", threads, "LibTorch threads (the server's default is 1)");
  app.add_option("--repeats", repeats);
  CLI11_PARSE(app, argc, argv);

  for (const auto& dir : models) {
    auto predictor = pneumo::model::Predictor::Load(dir, threads);
    if (!predictor) {
      std::fprintf(stderr, "%s: %s\n", dir.c_str(), predictor.error().ToString().c_str());
      return 1;
    }
    const auto& card = (*predictor)->card();
    nlohmann::json latency;
    for (int batch : {1, 16}) {
      std::vector<cv::Mat> inputs;
      for (int i = 0; i < batch; ++i) {
        cv::Mat x(card.input_size, card.input_size, CV_32FC1);
        cv::randn(x, 0.0, 1.0);
        inputs.push_back(x);
      }
      for (int w = 0; w < 3; ++w) (void)(*predictor)->Predict(inputs);
      std::vector<double> ms;
      for (int r = 0; r < repeats; ++r) {
        const auto t = Clock::now();
        auto out = (*predictor)->Predict(inputs);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        if (!out) return 1;
      }
      latency["batch_" + std::to_string(batch) + "_ms"] = Median(ms);
    }
    // The OOD score alone, on a pooled feature vector of the model's width.
    nlohmann::json ood = nullptr;
    if ((*predictor)->has_ood_statistics()) {
      cv::Mat x(card.input_size, card.input_size, CV_32FC1);
      cv::randn(x, 0.0, 1.0);
      auto features = (*predictor)->Features({&x, 1});
      const std::size_t dim = (*features)[0][0].size();
      pneumo::model::OodStatistics stats;
      stats.dim = static_cast<int>(dim);
      stats.class_means.assign(2, std::vector<float>(dim, 0.1f));
      stats.precision.assign(dim * dim, 0.001f);
      const auto t = Clock::now();
      float sink = 0;
      for (int r = 0; r < 1000; ++r)
        sink += pneumo::model::MahalanobisScore(stats, (*features)[0][0]);
      ood = {{"per_image_per_member_us",
              std::chrono::duration<double, std::micro>(Clock::now() - t).count() / 1000},
             {"feature_dim", dim},
             {"checksum", sink > 0}};
    }
    nlohmann::json out{{"model", card.name + " " + card.version},
                       {"directory", dir},
                       {"members", (*predictor)->member_count()},
                       {"input_size", card.input_size},
                       {"threads", threads},
                       {"predict", latency},
                       {"ood_score", ood}};
    std::printf("%s\n", out.dump().c_str());
  }
  return 0;
}
