// Out-of-distribution statistics: how far an image's pooled network features lie from the
// training X-rays', as a class-conditional Mahalanobis distance with a shared covariance
// (Lee et al. 2018), computed from the features of the same forward pass that predicts.
//
//   OodStatistics stats = FitOodStatistics(train_features, train_labels);   // [N][D], 0/1
//   float score = MahalanobisScore(stats, features_of_one_image);          // small in distribution
//   SaveOodStatistics({stats}, "models/x/ood.pt");
//
// No torch in this header. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "core/error.h"

namespace pneumo::model {

struct OodStatistics {
  int dim = 0;
  std::vector<std::vector<float>> class_means;  // [class][dim]
  std::vector<float> precision;  // dim x dim, row-major, inverse of the shrunk covariance
};

// Class means and the pooled within-class covariance, shrunk towards its mean variance by
// `shrinkage` (0..1) so that it stays invertible with fewer images than a few times dim.
// REQUIRES: features non-empty, all of one size, labels the same length; both classes present.
Result<OodStatistics> FitOodStatistics(const std::vector<std::vector<float>>& features,
                                       std::span<const int> labels, double shrinkage = 0.1);

// min over classes of (x - mean)^T precision (x - mean) / dim.
float MahalanobisScore(const OodStatistics& stats, std::span<const float> feature);

// One entry per ensemble member, as a LibTorch archive.
Result<void> SaveOodStatistics(const std::vector<OodStatistics>& per_member,
                               const std::filesystem::path& file);
Result<std::vector<OodStatistics>> LoadOodStatistics(std::span<const std::uint8_t> bytes);

}  // namespace pneumo::model
