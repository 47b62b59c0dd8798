#include "model/predictor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "core/file_bytes.h"
#include "core/sha256.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "model/networks.h"
#include "model/ood.h"

namespace pneumo::model {

struct Predictor::Impl {
  ModelCard card;
  std::vector<std::shared_ptr<Network>> nets;  // one per member, same order as the card's
  std::vector<OodStatistics> ood;              // one per member, or empty
  int threads = 1;

  // OpenMP keeps the thread count per calling thread, and the thread that loaded the model is
  // rarely the one that runs it (the server's batcher owns a worker thread).
  void UseThreads() const {
    if (torch::get_num_threads() != threads) torch::set_num_threads(threads);
  }

  Result<torch::Tensor> Batch(std::span<const cv::Mat> prepared) const {
    const int side = card.input_size;
    auto batch = torch::empty({static_cast<long>(prepared.size()), 1, side, side});
    float* dst = batch.data_ptr<float>();
    for (const cv::Mat& x : prepared) {
      if (x.rows != side || x.cols != side || x.type() != CV_32FC1)
        return Fail(ErrorCode::kInvalidArgument, "image not prepared for this model");
      cv::Mat contiguous = x.isContinuous() ? x : x.clone();
      std::memcpy(dst, contiguous.ptr<float>(), sizeof(float) * side * side);
      dst += side * side;
    }
    return batch;
  }
};

namespace {
Error InferenceError(const std::exception& e) {
  std::string what = e.what();
  return Error{ErrorCode::kModelError, "inference failed: " + what.substr(0, what.find('\n'))};
}
}  // namespace

Predictor::Predictor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Predictor::~Predictor() = default;

const ModelCard& Predictor::card() const { return impl_->card; }

float CalibratedProbability(float logit, double temperature, double bias) {
  const double z = static_cast<double>(logit) / temperature + bias;
  return static_cast<float>(z >= 0 ? 1.0 / (1.0 + std::exp(-z))
                                   : std::exp(z) / (1.0 + std::exp(z)));
}

Result<std::unique_ptr<Predictor>> Predictor::Load(const std::filesystem::path& path, int threads) {
  auto card = LoadModelCard(path);
  if (!card) return std::unexpected(card.error());
  const auto dir = ModelDirectory(path);
  auto impl = std::make_unique<Impl>();
  for (const ModelMember& member : MembersOf(*card)) {
    auto net = MakeNetwork(member.architecture);
    if (!net) return Fail(ErrorCode::kModelError, "model card names " + net.error().message);
    const auto weights = dir / member.weights_file;
    // Read once: the same bytes are checked against the card and then loaded.
    auto bytes = ReadFileBytes(weights, std::numeric_limits<std::size_t>::max());
    if (!bytes) return std::unexpected(bytes.error());
    if (!member.weights_sha256.empty() && Sha256Hex(*bytes) != member.weights_sha256)
      return Fail(ErrorCode::kModelError,
                  weights.string() + " does not match the SHA-256 in its model card");
    if (auto loaded = LoadWeights(**net, *bytes, weights.string()); !loaded)
      return std::unexpected(loaded.error());
    (*net)->eval();
    impl->nets.push_back(std::move(*net));
  }
  if (!card->ood.file.empty()) {
    const auto file = dir / card->ood.file;
    auto bytes = ReadFileBytes(file, std::numeric_limits<std::size_t>::max());
    if (!bytes) return std::unexpected(bytes.error());
    if (!card->ood.sha256.empty() && Sha256Hex(*bytes) != card->ood.sha256)
      return Fail(ErrorCode::kModelError,
                  file.string() + " does not match the SHA-256 in its model card");
    auto stats = LoadOodStatistics(*bytes);
    if (!stats) return std::unexpected(stats.error());
    if (stats->size() != impl->nets.size())
      return Fail(ErrorCode::kModelError,
                  file.string() + " holds statistics for another number of members");
    impl->ood = std::move(*stats);
  }
  // LibTorch here starts with one thread (OpenMP sees one by default): use every core unless told.
  impl->threads =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl->UseThreads();
  impl->card = std::move(*card);
  return std::unique_ptr<Predictor>(new Predictor(std::move(impl)));
}

bool Predictor::has_ood_statistics() const { return !impl_->ood.empty(); }
std::size_t Predictor::member_count() const { return impl_->nets.size(); }

cv::Mat Predictor::Prepare(const cv::Mat& gray01) const {
  const bool trim = impl_->card.normalization.borders == "uniform";
  cv::Mat x = image::ResizeForModel(trim ? image::TrimUniformBorders(gray01) : gray01,
                                    impl_->card.input_size);
  if (x.type() != CV_32FC1) x.convertTo(x, CV_32F);
  image::NormalizeInPlace(x, impl_->card.normalization);
  return x;
}

Result<std::vector<Predictor::Output>> Predictor::Predict(std::span<const cv::Mat> prepared) {
  if (prepared.empty()) return std::vector<Output>{};
  try {
    impl_->UseThreads();
    torch::NoGradGuard no_grad;
    auto batch = impl_->Batch(prepared);
    if (!batch) return std::unexpected(batch.error());
    std::vector<Output> out(prepared.size());
    const float members = static_cast<float>(impl_->nets.size());
    for (std::size_t m = 0; m < impl_->nets.size(); ++m) {
      auto [maps, logits] = impl_->nets[m]->ForwardWithFeatures(*batch);
      logits = logits.contiguous();
      for (std::size_t i = 0; i < out.size(); ++i)
        out[i].logit += logits.data_ptr<float>()[i] / members;
      if (impl_->ood.empty()) continue;
      auto pooled = maps.mean({2, 3}).contiguous();
      const auto dim = static_cast<std::size_t>(pooled.size(1));
      for (std::size_t i = 0; i < out.size(); ++i)
        out[i].ood_score +=
            MahalanobisScore(impl_->ood[m], {pooled.data_ptr<float>() + i * dim, dim}) / members;
    }
    for (auto& o : out) {
      o.probability = CalibratedProbability(o.logit, impl_->card.temperature, impl_->card.bias);
      o.out_of_distribution = !impl_->ood.empty() && o.ood_score > impl_->card.ood.threshold;
    }
    return out;
  } catch (const std::exception& e) {
    return std::unexpected(InferenceError(e));
  }
}

Result<std::vector<float>> Predictor::Logits(std::span<const cv::Mat> prepared) {
  auto outputs = Predict(prepared);
  if (!outputs) return std::unexpected(outputs.error());
  std::vector<float> logits;
  for (const auto& o : *outputs) logits.push_back(o.logit);
  return logits;
}

Result<std::vector<std::vector<std::vector<float>>>> Predictor::Features(
    std::span<const cv::Mat> prepared) {
  try {
    impl_->UseThreads();
    torch::NoGradGuard no_grad;
    auto batch = impl_->Batch(prepared);
    if (!batch) return std::unexpected(batch.error());
    std::vector<std::vector<std::vector<float>>> out;
    for (auto& net : impl_->nets) {
      auto pooled = net->ForwardWithFeatures(*batch).first.mean({2, 3}).contiguous();
      const auto dim = pooled.size(1);
      std::vector<std::vector<float>> member;
      for (std::int64_t i = 0; i < pooled.size(0); ++i)
        member.emplace_back(pooled.data_ptr<float>() + i * dim,
                            pooled.data_ptr<float>() + (i + 1) * dim);
      out.push_back(std::move(member));
    }
    return out;
  } catch (const std::exception& e) {
    return std::unexpected(InferenceError(e));
  }
}

Result<Predictor::Explanation> Predictor::GradCam(const cv::Mat& prepared) {
  try {
    impl_->UseThreads();
    auto batch = impl_->Batch({&prepared, 1});
    if (!batch) return std::unexpected(batch.error());
    // Grad-CAM (Selvaraju et al. 2017): channel weights are the spatially averaged gradients.
    // For an ensemble, the members' maps are averaged (each at the first member's resolution),
    // as their logits are.
    torch::AutoGradMode grad_on(true);
    torch::Tensor cam, logit_sum;
    for (auto& net : impl_->nets) {
      auto [features, logits] = net->ForwardWithFeatures(*batch);
      auto gradients = torch::autograd::grad({logits.sum()}, {features})[0];
      auto weights = gradients.mean({2, 3}, /*keepdim=*/true);
      auto member_cam =
          torch::relu((weights * features).sum(1, /*keepdim=*/true)).detach();  // [1, 1, h, w]
      if (cam.defined() && member_cam.sizes() != cam.sizes())
        member_cam = torch::nn::functional::interpolate(
            member_cam, torch::nn::functional::InterpolateFuncOptions()
                            .size(std::vector<std::int64_t>{cam.size(2), cam.size(3)})
                            .mode(torch::kBilinear)
                            .align_corners(false));
      cam = cam.defined() ? cam + member_cam : member_cam;
      logit_sum = logit_sum.defined() ? logit_sum + logits.detach() : logits.detach();
    }
    cam = cam.squeeze(0).squeeze(0);
    const float peak = cam.max().item<float>();
    if (peak > 0) cam = cam / peak;
    cam = cam.contiguous();
    cv::Mat map(static_cast<int>(cam.size(0)), static_cast<int>(cam.size(1)), CV_32FC1);
    std::memcpy(map.ptr<float>(), cam.data_ptr<float>(), sizeof(float) * cam.numel());
    const float logit = logit_sum.item<float>() / static_cast<float>(impl_->nets.size());
    return Explanation{map,
                       CalibratedProbability(logit, impl_->card.temperature, impl_->card.bias)};
  } catch (const std::exception& e) {
    return std::unexpected(InferenceError(e));
  }
}

Result<std::vector<float>> Predictor::Probabilities(std::span<const cv::Mat> prepared) {
  auto logits = Logits(prepared);
  if (!logits) return logits;
  for (float& v : *logits) v = CalibratedProbability(v, impl_->card.temperature, impl_->card.bias);
  return logits;
}

}  // namespace pneumo::model
