#include "model/predictor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "core/sha256.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "model/networks.h"

namespace pneumo::model {

struct Predictor::Impl {
  ModelCard card;
  std::shared_ptr<Network> net;
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
  return static_cast<float>(z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)));
}

Result<std::unique_ptr<Predictor>> Predictor::Load(const std::filesystem::path& path, int threads) {
  auto card = LoadModelCard(path);
  if (!card) return std::unexpected(card.error());
  auto net = MakeNetwork(card->architecture);
  if (!net) return Fail(ErrorCode::kModelError, "model card names " + net.error().message);
  const auto weights = ModelDirectory(path) / kWeightsFile;
  // Read once: the same bytes are checked against the card and then loaded.
  auto bytes = image::ReadFileBytes(weights, std::numeric_limits<std::size_t>::max());
  if (!bytes) return std::unexpected(bytes.error());
  if (!card->weights_sha256.empty() && Sha256Hex(*bytes) != card->weights_sha256)
    return Fail(ErrorCode::kModelError, weights.string() + " does not match the SHA-256 in its model card");
  if (auto loaded = LoadWeights(**net, *bytes, weights.string()); !loaded) return std::unexpected(loaded.error());
  (*net)->eval();
  auto impl = std::make_unique<Impl>();
  // LibTorch here starts with one thread (OpenMP sees one by default): use every core unless told.
  impl->threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl->UseThreads();
  impl->card = std::move(*card);
  impl->net = std::move(*net);
  return std::unique_ptr<Predictor>(new Predictor(std::move(impl)));
}

cv::Mat Predictor::Prepare(const cv::Mat& gray01) const {
  cv::Mat x = image::ResizeForModel(gray01, impl_->card.input_size);
  if (x.type() != CV_32FC1) x.convertTo(x, CV_32F);
  image::NormalizeInPlace(x, impl_->card.normalization);
  return x;
}

Result<std::vector<float>> Predictor::Logits(std::span<const cv::Mat> prepared) {
  if (prepared.empty()) return std::vector<float>{};
  try {
    impl_->UseThreads();
    torch::NoGradGuard no_grad;
    auto batch = impl_->Batch(prepared);
    if (!batch) return std::unexpected(batch.error());
    auto logits = impl_->net->forward(*batch).contiguous();
    return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
  } catch (const std::exception& e) {
    return std::unexpected(InferenceError(e));
  }
}

Result<Predictor::Explanation> Predictor::GradCam(const cv::Mat& prepared) {
  try {
    impl_->UseThreads();
    auto batch = impl_->Batch({&prepared, 1});
    if (!batch) return std::unexpected(batch.error());
    // Gradients with respect to the feature maps only: the weights' gradients are never needed.
    torch::AutoGradMode grad_on(true);
    auto [features, logits] = impl_->net->ForwardWithFeatures(*batch);
    auto gradients = torch::autograd::grad({logits.sum()}, {features})[0];
    // Grad-CAM (Selvaraju et al. 2017): channel weights are the spatially averaged gradients.
    auto weights = gradients.mean({2, 3}, /*keepdim=*/true);
    auto cam = torch::relu((weights * features).sum(1)).squeeze(0).detach();  // [h, w]
    const float peak = cam.max().item<float>();
    if (peak > 0) cam = cam / peak;
    cam = cam.contiguous();
    cv::Mat map(static_cast<int>(cam.size(0)), static_cast<int>(cam.size(1)), CV_32FC1);
    std::memcpy(map.ptr<float>(), cam.data_ptr<float>(), sizeof(float) * cam.numel());
    return Explanation{map, CalibratedProbability(logits.item<float>(), impl_->card.temperature,
                                                  impl_->card.bias)};
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
