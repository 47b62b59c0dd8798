#include "model/networks.h"

#include "core/file_bytes.h"
#include "image/decode.h"

namespace pneumo::model {
namespace nn = torch::nn;

// Far above any architecture here (ResNet-50 is about 95 MB); guards against reading a wrong file.
constexpr std::size_t kMaxWeightsBytes = std::size_t{2} << 30;

namespace {

nn::Conv2d Conv(int in, int out, int kernel, int stride) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// conv-bn-relu, conv-bn, plus a projected shortcut when the shape changes.
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int in, int out, int stride)
      // In declaration order, which is also the registration order the shipped weights have.
      : conv1(register_module("conv1", Conv(in, out, 3, stride))),
        conv2(register_module("conv2", Conv(out, out, 3, 1))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      shortcut = register_module("shortcut",
                                 nn::Sequential(Conv(in, out, 1, stride), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }
  nn::Conv2d conv1, conv2;
  nn::BatchNorm2d bn1, bn2;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

// 1x1 reduce, 3x3 (stride here, as in ResNet v1.5), 1x1 expand by 4.
struct BottleneckImpl : nn::Module {
  BottleneckImpl(int in, int width, int stride)
      : conv1(register_module("conv1", Conv(in, width, 1, 1))),
        conv2(register_module("conv2", Conv(width, width, 3, stride))),
        conv3(register_module("conv3", Conv(width, width * 4, 1, 1))),
        bn1(register_module("bn1", nn::BatchNorm2d(width))),
        bn2(register_module("bn2", nn::BatchNorm2d(width))),
        bn3(register_module("bn3", nn::BatchNorm2d(width * 4))) {
    if (stride != 1 || in != width * 4) {
      shortcut = register_module(
          "shortcut", nn::Sequential(Conv(in, width * 4, 1, stride), nn::BatchNorm2d(width * 4)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = torch::relu(bn2(conv2(y)));
    y = bn3(conv3(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }
  nn::Conv2d conv1, conv2, conv3;
  nn::BatchNorm2d bn1, bn2, bn3;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(Bottleneck);

// Shared head: global average pooling, dropout, one logit.
class BackboneNetwork : public Network {
 public:
  torch::Tensor forward(torch::Tensor x) override {
    return ForwardWithFeatures(std::move(x)).second;
  }
  std::pair<torch::Tensor, torch::Tensor> ForwardWithFeatures(torch::Tensor x) override {
    auto features = body_->forward(x);
    auto pooled = torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1);
    return {features, head_->forward(dropout_->forward(pooled)).squeeze(1)};
  }

 protected:
  void Build(nn::Sequential body, int feature_channels, double dropout) {
    body_ = register_module("body", std::move(body));
    dropout_ = register_module("dropout", nn::Dropout(dropout));
    head_ = register_module("head", nn::Linear(feature_channels, 1));
    InitWeights();
  }

 private:
  void InitWeights() {
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
    // Zero-init the last BN of each residual branch: blocks start as identities (Goyal et al.).
    for (auto& module : modules(false)) {
      if (auto* block = module->as<BasicBlockImpl>()) nn::init::zeros_(block->bn2->weight);
      if (auto* block = module->as<BottleneckImpl>()) nn::init::zeros_(block->bn3->weight);
    }
  }

  nn::Sequential body_{nullptr};
  nn::Dropout dropout_{nullptr};
  nn::Linear head_{nullptr};
};

// Stem to 1/4 resolution cheaply (5x5 s2 then 3x3 s2), then four residual stages.
class PneumoNet : public BackboneNetwork {
 public:
  explicit PneumoNet(int width) {
    const int w = width;
    nn::Sequential body(Conv(1, w / 2 + w / 4, 5, 2), nn::BatchNorm2d(w / 2 + w / 4), nn::ReLU(),
                        Conv(w / 2 + w / 4, w, 3, 2), nn::BatchNorm2d(w), nn::ReLU(),
                        BasicBlock(w, w, 1), BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 4 * w, 2),
                        BasicBlock(4 * w, 8 * w, 2));
    Build(std::move(body), 8 * w, /*dropout=*/0.2);
  }
};

class ResNet50 : public BackboneNetwork {
 public:
  ResNet50() {
    nn::Sequential body(Conv(1, 64, 7, 2), nn::BatchNorm2d(64), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
    int in = 64;
    const int blocks[] = {3, 4, 6, 3};
    for (int stage = 0; stage < 4; ++stage) {
      const int width = 64 << stage;
      for (int b = 0; b < blocks[stage]; ++b) {
        body->push_back(Bottleneck(in, width, (b == 0 && stage > 0) ? 2 : 1));
        in = width * 4;
      }
    }
    Build(std::move(body), in, /*dropout=*/0.0);
  }
};

std::vector<torch::Tensor> SelectParameters(nn::Module& net, bool decayed) {
  std::vector<torch::Tensor> out;
  for (const auto& item : net.named_parameters(/*recurse=*/true)) {
    const bool is_weight = item.key().ends_with("weight") && item.value().dim() > 1;
    if (is_weight == decayed) out.push_back(item.value());
  }
  return out;
}

}  // namespace

std::vector<std::string> KnownArchitectures() { return {"pneumonet", "resnet50", "tiny"}; }

Result<std::shared_ptr<Network>> MakeNetwork(std::string_view architecture) {
  if (architecture == "pneumonet") return std::make_shared<PneumoNet>(/*width=*/32);
  if (architecture == "tiny") return std::make_shared<PneumoNet>(/*width=*/4);
  if (architecture == "resnet50") return std::make_shared<ResNet50>();
  return Fail(ErrorCode::kInvalidArgument, "unknown architecture '" + std::string(architecture) +
                                               "' (known: pneumonet, resnet50, tiny)");
}

std::vector<torch::Tensor> DecayedParameters(nn::Module& net) {
  return SelectParameters(net, true);
}
std::vector<torch::Tensor> UndecayedParameters(nn::Module& net) {
  return SelectParameters(net, false);
}

Result<void> SaveWeights(Network& net, const std::string& path) {
  try {
    torch::serialize::OutputArchive archive;
    net.save(archive);
    archive.save_to(path);
    return {};
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kIoError, "cannot save weights to " + path + ": " + e.what());
  }
}

Result<void> LoadWeights(Network& net, const std::string& path) {
  auto bytes = ReadFileBytes(path, kMaxWeightsBytes);
  if (!bytes) return Fail(ErrorCode::kModelError, "cannot load weights: " + bytes.error().message);
  return LoadWeights(net, *bytes, path);
}

Result<void> LoadWeights(Network& net, std::span<const std::uint8_t> bytes,
                         const std::string& name) {
  try {
    // Module::load replaces tensors without checking shapes, so a checkpoint of another width
    // would load "successfully": compare every parameter and buffer shape before and after.
    std::vector<std::vector<std::int64_t>> expected;
    for (const auto& t : net.parameters()) expected.push_back(t.sizes().vec());
    for (const auto& t : net.buffers()) expected.push_back(t.sizes().vec());
    torch::serialize::InputArchive archive;
    // On the CPU: a checkpoint written on a GPU loads anywhere.
    archive.load_from(reinterpret_cast<const char*>(bytes.data()), bytes.size(), torch::kCPU);
    net.load(archive);
    std::size_t i = 0;
    bool same = true;
    for (const auto& t : net.parameters()) same = same && t.sizes().vec() == expected[i++];
    for (const auto& t : net.buffers()) same = same && t.sizes().vec() == expected[i++];
    if (!same)
      return Fail(ErrorCode::kModelError,
                  name + " holds weights of a different architecture or size");
    return {};
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));  // LibTorch appends a C++ stack trace
    return Fail(ErrorCode::kModelError, "cannot load weights from " + name + ": " + what);
  }
}

}  // namespace pneumo::model
