// A loaded model ready for inference: network, weights and card. Keeps torch out of its users.
//
//   auto predictor = Predictor::Load("models/default");     // Result<std::unique_ptr<Predictor>>
//   cv::Mat x = (*predictor)->Prepare(decoded_gray);       // resize + normalise per the card
//   auto p = (*predictor)->Probabilities({&x, 1});         // calibrated P(pneumonia) per image
//
// Not thread-safe: one thread owns a Predictor (the server's inference thread, or the CLI).
#pragma once

#include <opencv2/core/mat.hpp>

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "core/error.h"
#include "model/model_card.h"

namespace pneumo::model {

class Predictor {
 public:
  // Reads card.json and weights.pt from `path` (a model directory or its card.json); checks the
  // weights' SHA-256 against the card. `threads` sets LibTorch's intra-op threads (0: all cores).
  // The thread count is applied on whichever thread runs the model (OpenMP settings are per thread).
  static Result<std::unique_ptr<Predictor>> Load(const std::filesystem::path& path, int threads = 0);
  ~Predictor();

  const ModelCard& card() const;

  // Decoded CV_32FC1 [0, 1] image of any size -> what the network takes (input_size square,
  // normalised). The one preprocessing path shared with training.
  cv::Mat Prepare(const cv::Mat& gray01) const;

  // Raw logits for prepared images, one forward pass per call.
  Result<std::vector<float>> Logits(std::span<const cv::Mat> prepared);
  // Calibrated probabilities: sigmoid(logit / temperature + bias) with the card's values.
  Result<std::vector<float>> Probabilities(std::span<const cv::Mat> prepared);

  // Grad-CAM for one prepared image: where the evidence for pneumonia lies. `map` is CV_32FC1 at
  // the last convolution's resolution (input_size / 32 for pneumonet), scaled to [0, 1]; all
  // zeros when nothing in the image raises the pneumonia logit. One forward and one backward
  // pass, about twice the cost of a batch-1 prediction.
  struct Explanation {
    cv::Mat map;
    float probability = 0;
  };
  Result<Explanation> GradCam(const cv::Mat& prepared);

 private:
  struct Impl;
  explicit Predictor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// sigmoid(logit / temperature + bias), numerically stable.
float CalibratedProbability(float logit, double temperature, double bias = 0.0);

}  // namespace pneumo::model
