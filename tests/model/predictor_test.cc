#include "model/predictor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>

#include "core/sha256.h"
#include "model/networks.h"
#include "testing/temp_dir.h"

namespace pneumo::model {
namespace {

// Writes a tiny random model directory and returns its network for comparison.
std::shared_ptr<Network> WriteTinyModel(const std::filesystem::path& dir, double temperature) {
  torch::manual_seed(3);
  auto net = *MakeNetwork("tiny");
  net->eval();
  EXPECT_TRUE(SaveWeights(*net, (dir / kWeightsFile).string()));
  std::ifstream in(dir / kWeightsFile, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  ModelCard card;
  card.architecture = "tiny";
  card.input_size = 40;
  card.temperature = temperature;
  card.threshold = 0.5;
  card.weights_sha256 = Sha256Hex(bytes);
  EXPECT_TRUE(SaveModelCard(card, dir));
  return net;
}

cv::Mat RandomGray(int rows, int cols, int seed) {
  cv::Mat m(rows, cols, CV_32FC1);
  cv::theRNG().state = static_cast<std::uint64_t>(seed);
  cv::randu(m, 0.0, 1.0);
  return m;
}

TEST(Predictor, MatchesTheNetworkAndAppliesTheTemperature) {
  testing::TempDir dir;
  auto net = WriteTinyModel(dir.path(), 2.0);
  auto predictor = Predictor::Load(dir.path());
  ASSERT_TRUE(predictor) << predictor.error().ToString();
  std::vector<cv::Mat> prepared{(*predictor)->Prepare(RandomGray(300, 200, 1)),
                                (*predictor)->Prepare(RandomGray(64, 64, 2))};
  ASSERT_EQ(prepared[0].size(), cv::Size(40, 40));
  auto logits = (*predictor)->Logits(prepared);
  auto probs = (*predictor)->Probabilities(prepared);
  ASSERT_TRUE(logits && probs);

  torch::NoGradGuard no_grad;
  auto x = torch::empty({2, 1, 40, 40});
  std::memcpy(x.data_ptr<float>(), prepared[0].ptr<float>(), 40 * 40 * sizeof(float));
  std::memcpy(x.data_ptr<float>() + 1600, prepared[1].ptr<float>(), 40 * 40 * sizeof(float));
  auto expected = net->forward(x);
  for (int i = 0; i < 2; ++i) {
    EXPECT_FLOAT_EQ((*logits)[i], expected[i].item<float>());
    EXPECT_NEAR((*probs)[i], 1.0 / (1.0 + std::exp(-(*logits)[i] / 2.0)), 1e-6);
  }
}

TEST(Predictor, RefusesWeightsThatDoNotMatchTheCard) {
  testing::TempDir dir;
  WriteTinyModel(dir.path(), 1.0);
  std::ofstream(dir.path() / kWeightsFile, std::ios::app) << "tampered";
  auto predictor = Predictor::Load(dir.path());
  ASSERT_FALSE(predictor);
  EXPECT_EQ(predictor.error().code, ErrorCode::kModelError);
  EXPECT_NE(predictor.error().message.find("SHA-256"), std::string::npos);
}

TEST(Predictor, RejectsImagesNotPreparedForIt) {
  testing::TempDir dir;
  WriteTinyModel(dir.path(), 1.0);
  auto predictor = Predictor::Load(dir.path());
  ASSERT_TRUE(predictor);
  std::vector<cv::Mat> wrong{RandomGray(41, 40, 3)};
  EXPECT_EQ((*predictor)->Logits(wrong).error().code, ErrorCode::kInvalidArgument);
}

TEST(Predictor, GradCamGivesANormalisedMapAndTheSameProbability) {
  testing::TempDir dir;
  WriteTinyModel(dir.path(), 1.5);
  auto predictor = Predictor::Load(dir.path());
  ASSERT_TRUE(predictor);
  cv::Mat x = (*predictor)->Prepare(RandomGray(120, 100, 4));
  auto explanation = (*predictor)->GradCam(x);
  ASSERT_TRUE(explanation) << explanation.error().ToString();
  const cv::Mat& map = explanation->map;
  ASSERT_FALSE(map.empty());
  EXPECT_EQ(map.type(), CV_32FC1);
  EXPECT_LE(map.rows, 40);
  double lo = 0, hi = 0;
  cv::minMaxLoc(map, &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_TRUE(hi == 0.0 || std::abs(hi - 1.0) < 1e-6)
      << "scaled so the peak is 1, or all zero; peak " << hi;
  auto probability = (*predictor)->Probabilities({&x, 1});
  ASSERT_TRUE(probability);
  EXPECT_NEAR(explanation->probability, (*probability)[0], 1e-5)
      << "the explanation is of the same prediction";
  // Inference afterwards is unaffected by the gradient pass.
  auto again = (*predictor)->Probabilities({&x, 1});
  EXPECT_FLOAT_EQ((*again)[0], (*probability)[0]);
}

TEST(Predictor, CalibratedProbabilityIsStableForExtremeLogits) {
  EXPECT_FLOAT_EQ(CalibratedProbability(0.0f, 1.0), 0.5f);
  EXPECT_FLOAT_EQ(CalibratedProbability(1e4f, 1.0), 1.0f);
  EXPECT_FLOAT_EQ(CalibratedProbability(-1e4f, 1.0), 0.0f);
}

}  // namespace
}  // namespace pneumo::model
