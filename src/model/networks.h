// The network architectures, in LibTorch. Includes torch: only model/ and train/ sources use it.
//
//   auto net = MakeNetwork("pneumonet");            // Result<std::shared_ptr<Network>>
//   torch::Tensor logits = (*net)->forward(x);      // x: [N, 1, H, W] -> logits [N]
//
// Architectures (one input channel; weights from scratch):
//   "pneumonet"  compact residual CNN (~1.2 M parameters, ~0.2 GMAC at 224 px): trains on two CPU
//                cores in under an hour.
//   "resnet50"   ResNet-50 v1.5 (bottleneck [3, 4, 6, 3]), the original system's backbone, for
//   GPUs. "tiny"       a few thousand parameters, for tests.
// A Network is an ordinary torch::nn::Module: not thread-safe for training; concurrent forward
// passes in eval mode under NoGradGuard are safe.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pneumo::model {

class Network : public torch::nn::Module {
 public:
  // x [N, 1, H, W] -> logits [N] (pneumonia vs normal).
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // The last convolutional feature maps [N, C, h, w] and the logits computed from them, for
  // Grad-CAM style explanations.
  virtual std::pair<torch::Tensor, torch::Tensor> ForwardWithFeatures(torch::Tensor x) = 0;
};

Result<std::shared_ptr<Network>> MakeNetwork(std::string_view architecture);
std::vector<std::string> KnownArchitectures();

// Parameters that receive weight decay: conv and linear weights (not biases, not batch-norm).
std::vector<torch::Tensor> DecayedParameters(torch::nn::Module& net);
std::vector<torch::Tensor> UndecayedParameters(torch::nn::Module& net);

// Weights as a LibTorch archive; kIoError / kModelError name the file and the reason.
Result<void> SaveWeights(Network& net, const std::string& path);
// On error `net` is left in an unspecified state and must be discarded.
Result<void> LoadWeights(Network& net, const std::string& path);
// The same from the bytes of a weights file (already read, e.g. to check its SHA-256);
// `name` identifies them in error messages.
Result<void> LoadWeights(Network& net, std::span<const std::uint8_t> bytes,
                         const std::string& name);

}  // namespace pneumo::model
