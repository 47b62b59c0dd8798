// Times the C++ engine: training images/s (forward + backward + AdamW step) and inference
// latency at batch 1 and 16, on random inputs, for one architecture. Prints one JSON object.
//
//   build/bench/engine_bench --arch pneumonet --input-size 224 --threads 2
//
// bench/python_reference.py does the same in Python PyTorch; bench/run_engine_bench.sh runs both.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "model/networks.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string arch = "pneumonet";
  int input_size = 224, threads = 2, train_batch = 32, train_steps = 10, repeats = 20;
  CLI::App app{"engine benchmark"};
  app.add_option("--arch", arch);
  app.add_option("--input-size", input_size);
  app.add_option("--threads", threads);
  app.add_option("--train-batch", train_batch);
  app.add_option("--train-steps", train_steps);
  app.add_option("--repeats", repeats);
  CLI11_PARSE(app, argc, argv);

  torch::manual_seed(0);
  torch::set_num_threads(threads);
  auto made = pneumo::model::MakeNetwork(arch);
  if (!made) {
    std::fprintf(stderr, "%s\n", made.error().ToString().c_str());
    return 1;
  }
  auto net = *made;
  int64_t parameters = 0;  // printed so the Python reference can show it builds the same network
  for (const auto& p : net->parameters()) parameters += p.numel();
  torch::optim::AdamW optimizer(net->parameters(), torch::optim::AdamWOptions(1e-3));
  auto x = torch::randn({train_batch, 1, input_size, input_size});
  auto y = torch::randint(0, 2, {train_batch}).to(torch::kFloat32);
  net->train();
  for (int warmup = 0; warmup < 2; ++warmup) {
    auto loss = torch::binary_cross_entropy_with_logits(net->forward(x), y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  auto t0 = Clock::now();
  for (int s = 0; s < train_steps; ++s) {
    auto loss = torch::binary_cross_entropy_with_logits(net->forward(x), y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  const double train_ips =
      train_batch * train_steps / std::chrono::duration<double>(Clock::now() - t0).count();

  net->eval();
  torch::NoGradGuard no_grad;
  nlohmann::json latency;
  for (int batch : {1, 16}) {
    auto input = torch::randn({batch, 1, input_size, input_size});
    for (int w = 0; w < 3; ++w) net->forward(input);
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r) {
      auto t = Clock::now();
      net->forward(input);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    }
    latency["batch_" + std::to_string(batch) + "_ms"] = Median(ms);
  }
  nlohmann::json out{{"engine", "cpp-libtorch"}, {"arch", arch},
                     {"input_size", input_size}, {"threads", threads},
                     {"parameters", parameters}, {"train_images_per_second", train_ips},
                     {"inference", latency}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
