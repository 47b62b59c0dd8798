// A loaded model ready for inference: its networks (one, or an ensemble's members), weights,
// OOD statistics and card. Keeps torch out of its users.
//
//   auto predictor = Predictor::Load("models/default");     // Result<std::unique_ptr<Predictor>>
//   cv::Mat x = (*predictor)->Prepare(decoded_gray);       // resize + equalise + normalise per the
//   card auto out = (*predictor)->Predict({&x, 1});             // logit, calibrated P(pneumonia),
//   OOD score
//
// Thread-safety: card() and Prepare() are const and safe from any thread (HTTP threads prepare
// while the model thread predicts). Predict, Logits, Probabilities, Features and GradCam run the
// networks: one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <span>
#include <vector>

#include "core/error.h"
#include "model/model_card.h"

namespace pneumo::model {

class Predictor {
 public:
  // Reads card.json and weights.pt from `path` (a model directory or its card.json); checks the
  // weights' SHA-256 against the card. `threads` sets LibTorch's intra-op threads (0: all cores).
  // The thread count is applied on whichever thread runs the model (OpenMP settings are per
  // thread).
  static Result<std::unique_ptr<Predictor>> Load(const std::filesystem::path& path,
                                                 int threads = 0);
  ~Predictor();

  const ModelCard& card() const;

  // Decoded CV_32FC1 [0, 1] image of any size -> what the network takes (input_size square,
  // normalised). The one preprocessing path shared with training.
  cv::Mat Prepare(const cv::Mat& gray01) const;

  struct Output {
    float logit = 0;        // mean of the members' logits
    float probability = 0;  // sigmoid(logit / temperature + bias)
    float ood_score = 0;  // mean Mahalanobis score over members; 0 when the model has no statistics
    bool out_of_distribution = false;  // ood_score above the card's threshold
  };
  // One forward pass per member per call; the OOD score comes from the same pass.
  Result<std::vector<Output>> Predict(std::span<const cv::Mat> prepared);
  bool has_ood_statistics() const;

  // Raw (member-averaged) logits for prepared images.
  Result<std::vector<float>> Logits(std::span<const cv::Mat> prepared);
  // Globally pooled last-layer features, [member][image][feature], to fit OOD statistics.
  Result<std::vector<std::vector<std::vector<float>>>> Features(std::span<const cv::Mat> prepared);
  std::size_t member_count() const;
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
