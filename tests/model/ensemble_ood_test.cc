// Ensembles (members averaged in logit space), the calibration intercept through the Predictor,
// and the OOD score: its arithmetic, its storage and its use in Predict.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/sha256.h"
#include "model/networks.h"
#include "model/ood.h"
#include "model/predictor.h"
#include "testing/temp_dir.h"

namespace pneumo::model {
namespace {

std::string WriteWeights(const std::filesystem::path& file, int seed) {
  torch::manual_seed(seed);
  auto net = *MakeNetwork("tiny");
  EXPECT_TRUE(SaveWeights(*net, file.string()));
  std::ifstream in(file, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  return Sha256Hex(bytes);
}

ModelCard BaseCard(double temperature = 1.0, double bias = 0.0) {
  ModelCard card;
  card.architecture = "tiny";
  card.input_size = 40;
  card.temperature = temperature;
  card.bias = bias;
  card.threshold = 0.5;
  return card;
}

// A single-model directory with weights drawn from `seed`.
void WriteSingle(const std::filesystem::path& dir, int seed, double temperature = 1.0,
                 double bias = 0.0) {
  ModelCard card = BaseCard(temperature, bias);
  card.weights_sha256 = WriteWeights(dir / kWeightsFile, seed);
  ASSERT_TRUE(SaveModelCard(card, dir));
}

void WriteEnsemble(const std::filesystem::path& dir, const std::vector<int>& seeds) {
  ModelCard card = BaseCard();
  card.architecture = kEnsembleArchitecture;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string file = "member" + std::to_string(i) + ".pt";
    card.members.push_back(
        {"tiny", file, WriteWeights(dir / file, seeds[i]), {{"seed", seeds[i]}}});
  }
  ASSERT_TRUE(SaveModelCard(card, dir));
}

cv::Mat Random(int seed) {
  cv::Mat m(60, 50, CV_32FC1);
  cv::theRNG().state = static_cast<std::uint64_t>(seed);
  cv::randu(m, 0.0, 1.0);
  return m;
}

std::vector<float> LogitsOf(const std::filesystem::path& dir, const std::vector<cv::Mat>& raw) {
  auto predictor = Predictor::Load(dir);
  EXPECT_TRUE(predictor) << predictor.error().ToString();
  std::vector<cv::Mat> prepared;
  for (const auto& x : raw) prepared.push_back((*predictor)->Prepare(x));
  return *(*predictor)->Logits(prepared);
}

TEST(Ensemble, OfOneMemberEqualsTheSingleModel) {
  testing::TempDir single, ensemble;
  WriteSingle(single.path(), 5);
  WriteEnsemble(ensemble.path(), {5});
  const std::vector<cv::Mat> raw{Random(1), Random(2), Random(3)};
  const auto a = LogitsOf(single.path(), raw), b = LogitsOf(ensemble.path(), raw);
  ASSERT_EQ(a.size(), 3u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_FLOAT_EQ(a[i], b[i]);
}

TEST(Ensemble, AveragesItsMembersLogits) {
  testing::TempDir m1, m2, ensemble;
  WriteSingle(m1.path(), 5);
  WriteSingle(m2.path(), 9);
  WriteEnsemble(ensemble.path(), {5, 9});
  const std::vector<cv::Mat> raw{Random(4), Random(5)};
  const auto a = LogitsOf(m1.path(), raw), b = LogitsOf(m2.path(), raw),
             both = LogitsOf(ensemble.path(), raw);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    EXPECT_NE(a[i], b[i]) << "members with other seeds disagree";
    EXPECT_NEAR(both[i], (a[i] + b[i]) / 2, 1e-5);
  }
  auto predictor = Predictor::Load(ensemble.path());
  ASSERT_TRUE(predictor);
  EXPECT_EQ((*predictor)->member_count(), 2u);
  cv::Mat x = (*predictor)->Prepare(Random(6));
  auto cam = (*predictor)->GradCam(x);
  ASSERT_TRUE(cam) << cam.error().ToString();
  auto p = (*predictor)->Probabilities({&x, 1});
  EXPECT_NEAR(cam->probability, (*p)[0], 1e-5) << "the explanation is of the ensemble's prediction";
}

TEST(Ensemble, RefusesAMemberWhoseWeightsChanged) {
  testing::TempDir dir;
  WriteEnsemble(dir.path(), {1, 2});
  std::ofstream(dir.path() / "member1.pt", std::ios::app) << "x";
  auto predictor = Predictor::Load(dir.path());
  ASSERT_FALSE(predictor);
  EXPECT_NE(predictor.error().message.find("member1.pt"), std::string::npos);
}

TEST(Ensemble, RefusesAMemberOutsideTheModelDirectory) {
  testing::TempDir dir;
  WriteEnsemble(dir.path(), {1});
  auto json = ToJson(*LoadModelCard(dir.path()));
  json["members"][0]["weights"]["file"] = "../elsewhere.pt";
  EXPECT_FALSE(ModelCardFromJson(json));
}

TEST(Predictor, AppliesTheCalibrationIntercept) {
  testing::TempDir dir;
  WriteSingle(dir.path(), 3, /*temperature=*/2.0, /*bias=*/1.25);
  auto predictor = Predictor::Load(dir.path());
  ASSERT_TRUE(predictor);
  cv::Mat x = (*predictor)->Prepare(Random(7));
  auto out = (*predictor)->Predict({&x, 1});
  ASSERT_TRUE(out);
  const double z = (*out)[0].logit / 2.0 + 1.25;
  EXPECT_NEAR((*out)[0].probability, 1.0 / (1.0 + std::exp(-z)), 1e-6);
  EXPECT_GT((*out)[0].probability, CalibratedProbability((*out)[0].logit, 2.0, 0.0))
      << "a positive bias raises p";
}

TEST(OodStatistics, ScoreIsTheSmallestClassDistancePerFeature) {
  // Two classes in 2-D with identity covariance (no shrinkage needed): means (0,0) and (4,0).
  std::vector<std::vector<float>> features{{-1, 0}, {1, 0}, {0, -1}, {0, 1},
                                           {3, 0},  {5, 0}, {4, -1}, {4, 1}};
  std::vector<int> labels{0, 0, 0, 0, 1, 1, 1, 1};
  auto stats = FitOodStatistics(features, labels, /*shrinkage=*/0.0);
  ASSERT_TRUE(stats) << stats.error().ToString();
  ASSERT_EQ(stats->dim, 2);
  // Pooled within-class covariance: diag(0.5, 0.5), so precision diag(2, 2).
  EXPECT_NEAR(stats->precision[0], 2.0, 1e-5);
  EXPECT_NEAR(stats->precision[3], 2.0, 1e-5);
  const std::vector<float> at_mean{4, 0}, between{2, 0}, far{0, 10};
  EXPECT_NEAR(MahalanobisScore(*stats, at_mean), 0.0, 1e-6);
  EXPECT_NEAR(MahalanobisScore(*stats, between), 2.0 * 4 / 2, 1e-5);  // 2^2 * 2 / dim
  EXPECT_NEAR(MahalanobisScore(*stats, far), 10.0 * 10 * 2 / 2, 1e-3);
}

TEST(OodStatistics, RefusesOneClassOnly) {
  std::vector<std::vector<float>> features{{1, 2}, {3, 4}};
  std::vector<int> labels{1, 1};
  EXPECT_FALSE(FitOodStatistics(features, labels));
}

TEST(OodStatistics, SurviveASaveAndLoad) {
  testing::TempDir dir;
  std::vector<std::vector<float>> features{{0, 0, 1}, {1, 0, 0}, {0, 1, 0},
                                           {5, 5, 5}, {6, 5, 5}, {5, 6, 4}};
  std::vector<int> labels{0, 0, 0, 1, 1, 1};
  auto stats = FitOodStatistics(features, labels);
  ASSERT_TRUE(stats);
  ASSERT_TRUE(SaveOodStatistics({*stats, *stats}, dir.path() / kOodFile));
  std::ifstream in(dir.path() / kOodFile, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  auto loaded = LoadOodStatistics(bytes);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_EQ(loaded->size(), 2u);
  const std::vector<float> probe{2, 3, 1};
  EXPECT_FLOAT_EQ(MahalanobisScore((*loaded)[1], probe), MahalanobisScore(*stats, probe));
  EXPECT_FALSE(LoadOodStatistics(
      std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2)));
}

// Fits statistics on the features of smooth images, then scores a smooth image (in distribution)
// and a checkerboard (out of distribution) through Predict, in the same pass as the logit.
TEST(Predictor, ScoresOutOfDistributionInputsInTheSameForwardPass) {
  testing::TempDir dir;
  WriteSingle(dir.path(), 11);
  auto smooth = [](int seed) {
    cv::Mat m = Random(seed);
    cv::GaussianBlur(m, m, cv::Size(0, 0), 8.0);
    return m;
  };
  std::vector<std::vector<float>> features;
  std::vector<int> labels;
  {
    auto predictor = Predictor::Load(dir.path());
    ASSERT_TRUE(predictor);
    std::vector<cv::Mat> prepared;
    for (int i = 0; i < 80; ++i) prepared.push_back((*predictor)->Prepare(smooth(100 + i)));
    auto f = (*predictor)->Features(prepared);
    ASSERT_TRUE(f);
    features = (*f)[0];
    for (int i = 0; i < 80; ++i) labels.push_back(i % 2);
  }
  auto stats = FitOodStatistics(features, labels);
  ASSERT_TRUE(stats);
  ASSERT_TRUE(SaveOodStatistics({*stats}, dir.path() / kOodFile));
  std::ifstream in(dir.path() / kOodFile, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  ModelCard card = *LoadModelCard(dir.path());
  card.ood = {kOodFile, Sha256Hex(bytes), /*threshold=*/0, "test", {}};
  cv::Mat checker(60, 50, CV_32FC1);
  for (int r = 0; r < 60; ++r)
    for (int c = 0; c < 50; ++c) checker.at<float>(r, c) = ((r / 3 + c / 3) % 2) ? 1.0f : 0.0f;

  auto scores = [&](double threshold) {
    card.ood.threshold = threshold;
    EXPECT_TRUE(SaveModelCard(card, dir.path()));
    auto predictor = Predictor::Load(dir.path());
    EXPECT_TRUE(predictor) << predictor.error().ToString();
    EXPECT_TRUE((*predictor)->has_ood_statistics());
    std::vector<cv::Mat> prepared{(*predictor)->Prepare(smooth(100)),
                                  (*predictor)->Prepare(checker)};
    return *(*predictor)->Predict(prepared);
  };
  const auto first = scores(1e6);
  EXPECT_GT(first[1].ood_score, 1.5 * first[0].ood_score)
      << "in " << first[0].ood_score << " out " << first[1].ood_score;
  EXPECT_FALSE(first[0].out_of_distribution);
  EXPECT_FALSE(first[1].out_of_distribution) << "threshold far above";
  const auto second = scores((first[0].ood_score + first[1].ood_score) / 2);
  EXPECT_FALSE(second[0].out_of_distribution);
  EXPECT_TRUE(second[1].out_of_distribution);
  EXPECT_FLOAT_EQ(second[1].logit, first[1].logit) << "the check does not change the prediction";

  std::ofstream(dir.path() / kOodFile, std::ios::app) << "x";
  EXPECT_FALSE(Predictor::Load(dir.path())) << "statistics that do not match the card are refused";
}

}  // namespace
}  // namespace pneumo::model
