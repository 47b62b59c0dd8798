// Grad-CAM must point at the evidence: a tiny network learns that a bright disk (not a ring of the
// same brightness) means "pneumonia", and its heatmap's centre must move with the disk. An
// all-zero map, or one that does not depend on where the evidence is, fails.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

#include "core/sha256.h"
#include "model/model_card.h"
#include "model/networks.h"
#include "model/predictor.h"
#include "testing/temp_dir.h"

namespace pneumo::model {
namespace {

constexpr int kSide = 256;  // the tiny network pools by 32: an 8x8 map

// Noise with soft vertical bands (rib-like texture).
cv::Mat Background(std::mt19937& rng) {
  cv::Mat img(kSide, kSide, CV_32FC1);
  cv::randn(img, 0.45, 0.08);
  std::uniform_int_distribution<int> band(0, kSide - 1);
  for (int k = 0; k < 3; ++k) {
    const int x = band(rng);
    cv::line(img, {x, 0}, {x, kSide - 1}, cv::Scalar(0.6), 3);
  }
  return img;
}

// A bright filled disk (the evidence for "pneumonia") or a ring of about the same area and
// brightness (negatives), so that the classes' pixel statistics match and only the shape, where
// it lies, tells them apart.
cv::Mat WithShape(cv::Mat background, bool disk, cv::Point at) {
  cv::Mat img = background.clone();
  if (disk) {
    cv::circle(img, at, 10, cv::Scalar(1.0), cv::FILLED);
  } else {
    cv::circle(img, at, 11, cv::Scalar(1.0), /*thickness=*/4);
  }
  cv::GaussianBlur(img, img, {5, 5}, 1.5);
  return img;
}

cv::Point RandomPlace(std::mt19937& rng) {
  std::uniform_int_distribution<int> coordinate(14, kSide - 14);
  return {coordinate(rng), coordinate(rng)};
}

// The heatmap's centre of mass, in input pixels.
cv::Point2d Centroid(const cv::Mat& map) {
  const cv::Moments m = cv::moments(map);
  const double cell = static_cast<double>(kSide) / map.cols;
  return {(m.m10 / m.m00 + 0.5) * cell, (m.m01 / m.m00 + 0.5) * cell};
}

void WriteCard(const std::filesystem::path& dir) {
  std::ifstream in(dir / kWeightsFile, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  ModelCard card;
  card.architecture = "tiny";
  card.input_size = kSide;
  card.threshold = 0.5;
  card.weights_sha256 = Sha256Hex(bytes);
  ASSERT_TRUE(SaveModelCard(card, dir));
}

TEST(GradCam, HeatFollowsTheEvidenceAcrossTheImage) {
  testing::TempDir dir;
  torch::manual_seed(11);
  auto net = *MakeNetwork("tiny");
  ASSERT_TRUE(SaveWeights(*net, (dir.path() / kWeightsFile).string()));
  WriteCard(dir.path());
  // The predictor's own preparation, so that training sees exactly what GradCam will.
  auto preparer = Predictor::Load(dir.path());
  ASSERT_TRUE(preparer) << preparer.error().ToString();

  std::mt19937 rng(5);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(0.01));
  net->train();
  constexpr int kBatch = 16, kSteps = 200;
  for (int step = 0; step < kSteps; ++step) {
    auto x = torch::empty({kBatch, 1, kSide, kSide});
    std::vector<float> labels;
    for (int i = 0; i < kBatch; ++i) {
      const bool positive = i % 2 == 0;
      const cv::Mat prepared =
          (*preparer)->Prepare(WithShape(Background(rng), positive, RandomPlace(rng)));
      std::memcpy(x.data_ptr<float>() + i * kSide * kSide, prepared.ptr<float>(),
                  kSide * kSide * sizeof(float));
      labels.push_back(positive ? 1.0f : 0.0f);
    }
    auto loss = torch::binary_cross_entropy_with_logits(net->forward(x), torch::tensor(labels));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  net->eval();
  ASSERT_TRUE(SaveWeights(*net, (dir.path() / kWeightsFile).string()));
  WriteCard(dir.path());
  auto predictor = Predictor::Load(dir.path());
  ASSERT_TRUE(predictor) << predictor.error().ToString();

  // The same image with the disk in the top-left and in the bottom-right corner: the heat must
  // follow the disk (an all-zero map, or one that ignores the input, fails).
  int followed = 0, confident = 0;
  constexpr int kPairs = 10;
  for (int i = 0; i < kPairs; ++i) {
    const cv::Mat background = Background(rng);
    cv::Point2d centroids[2];
    const cv::Point places[2] = {{48, 48}, {kSide - 48, kSide - 48}};
    for (int k = 0; k < 2; ++k) {
      const cv::Mat prepared = (*predictor)->Prepare(WithShape(background, true, places[k]));
      auto explanation = (*predictor)->GradCam(prepared);
      ASSERT_TRUE(explanation) << explanation.error().ToString();
      confident += explanation->probability > 0.8;
      double peak = 0;
      cv::minMaxLoc(explanation->map, nullptr, &peak);
      ASSERT_GT(peak, 0) << "an all-zero map explains nothing";
      centroids[k] = Centroid(explanation->map);
    }
    const bool moved = centroids[1].x > centroids[0].x + 4 && centroids[1].y > centroids[0].y + 4;
    followed += moved;
    EXPECT_TRUE(moved) << "pair " << i << ": centre of heat " << centroids[0] << " for a disk at "
                       << places[0] << ", " << centroids[1] << " for one at " << places[1];
  }
  EXPECT_GE(confident, 2 * kPairs - 2) << "the network did not learn the disk";
  EXPECT_GE(followed, kPairs - 1);
}

}  // namespace
}  // namespace pneumo::model
