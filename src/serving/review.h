// When a prediction needs a human's second look, in words the doctor sees.
//
//   auto reasons = ReviewReasons(0.61, card.threshold, {.band = 0.15}, decoded);
//   record.review = !reasons.empty();
//
// Two kinds of reason. The model is unsure: the calibrated probability lies within `band` of the
// threshold, where validation errors concentrate. The input looks unlike the radiographs the model
// was trained on (checked on the decoded pixels, cheaply): a colour photograph, a tiny image, an
// aspect ratio no chest film has, or almost no contrast (blank, saturated or a screenshot of text).
// These are screens; the out-of-distribution check in the network's feature space
// (model/ood.h, kNotChestXrayReason) catches what they miss, such as a CT slice or a document.
#pragma once

#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

#include "image/decode.h"

namespace pneumo::serving {

// The reason given when the model's OOD check finds the image unlike its training X-rays.
inline constexpr char kNotChestXrayReason[] = "does not look like a frontal chest X-ray";

struct ReviewPolicy {
  double band = 0.15;          // half-width of the uncertainty band around the threshold
  int min_side = 128;          // px; smaller images carry too little detail
  double max_aspect = 2.0;     // long side / short side
  double min_contrast = 0.04;  // standard deviation of [0, 1] gray values
};

// Reasons about the image alone (no model output needed).
std::vector<std::string> InputReviewReasons(const image::DecodedImage& decoded,
                                            const ReviewPolicy& policy);

// Reason about the model's certainty, or empty.
std::vector<std::string> UncertaintyReviewReasons(double probability, double threshold,
                                                  const ReviewPolicy& policy);

}  // namespace pneumo::serving
