#include "model/networks.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace pneumo::model {
namespace {

TEST(Networks, EveryArchitectureMapsImagesToOneLogitEach) {
  torch::NoGradGuard no_grad;
  for (const auto& arch : KnownArchitectures()) {
    auto net = MakeNetwork(arch);
    ASSERT_TRUE(net) << arch;
    (*net)->eval();
    auto [features, logits] = (*net)->ForwardWithFeatures(torch::randn({2, 1, 64, 64}));
    EXPECT_EQ(logits.sizes(), (torch::IntArrayRef{2})) << arch;
    EXPECT_EQ(features.dim(), 4) << arch;
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>()) << arch;
  }
}

TEST(Networks, RejectsUnknownArchitectureNamingTheKnownOnes) {
  auto net = MakeNetwork("vgg");
  ASSERT_FALSE(net);
  EXPECT_NE(net.error().message.find("pneumonet"), std::string::npos);
}

TEST(Networks, CompactNetworkStaysSmall) {
  auto net = MakeNetwork("pneumonet");
  ASSERT_TRUE(net);
  std::int64_t count = 0;
  for (const auto& p : (*net)->parameters()) count += p.numel();
  EXPECT_LT(count, 3'000'000);  // a few MB on disk
  EXPECT_GT(count, 500'000);
}

TEST(Networks, SaveThenLoadGivesIdenticalOutputs) {
  testing::TempDir dir;
  torch::manual_seed(1);
  auto a = *MakeNetwork("tiny");
  // Move batch-norm statistics away from their initial values so the test covers buffers too.
  a->train();
  for (int i = 0; i < 3; ++i) a->forward(torch::randn({4, 1, 48, 48}) * 3 + 1);
  a->eval();
  const auto path = (dir.path() / "w.pt").string();
  ASSERT_TRUE(SaveWeights(*a, path));
  torch::manual_seed(2);
  auto b = *MakeNetwork("tiny");
  b->eval();
  ASSERT_TRUE(LoadWeights(*b, path));
  torch::NoGradGuard no_grad;
  auto x = torch::randn({3, 1, 48, 48});
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
}

TEST(Networks, LoadingTheWrongFileIsAModelError) {
  testing::TempDir dir;
  const auto garbage = (dir.path() / "garbage.pt").string();
  std::ofstream(garbage) << "not a torch archive";
  auto net = *MakeNetwork("tiny");
  EXPECT_EQ(LoadWeights(*net, garbage).error().code, ErrorCode::kModelError);
  auto big = *MakeNetwork("pneumonet");
  const auto tiny_weights = (dir.path() / "tiny.pt").string();
  ASSERT_TRUE(SaveWeights(*net, tiny_weights));
  EXPECT_EQ(LoadWeights(*big, tiny_weights).error().code, ErrorCode::kModelError);
}

TEST(Networks, DecaysWeightsButNotBiasesOrNormalisation) {
  auto net = *MakeNetwork("tiny");
  const auto decayed = DecayedParameters(*net), undecayed = UndecayedParameters(*net);
  EXPECT_EQ(decayed.size() + undecayed.size(), net->parameters().size());
  for (const auto& p : decayed) EXPECT_GT(p.dim(), 1);
  for (const auto& p : undecayed) EXPECT_EQ(p.dim(), 1);
}

}  // namespace
}  // namespace pneumo::model
