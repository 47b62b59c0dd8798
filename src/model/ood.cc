#include "model/ood.h"

#include <torch/torch.h>

#include <string>

namespace pneumo::model {
namespace {

torch::Tensor ToTensor(const std::vector<float>& values, std::vector<std::int64_t> shape) {
  return torch::from_blob(const_cast<float*>(values.data()), shape, torch::kFloat32).clone();
}

std::vector<float> ToVector(const torch::Tensor& t) {
  auto c = t.contiguous().to(torch::kFloat32);
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

}  // namespace

Result<OodStatistics> FitOodStatistics(const std::vector<std::vector<float>>& features,
                                       std::span<const int> labels, double shrinkage) {
  if (features.empty() || features.size() != labels.size())
    return Fail(ErrorCode::kInvalidArgument,
                "OOD fit: features and labels must be non-empty and of one length");
  const auto dim = static_cast<std::int64_t>(features[0].size());
  if (dim == 0) return Fail(ErrorCode::kInvalidArgument, "OOD fit: empty feature vectors");
  try {
    torch::NoGradGuard no_grad;
    auto x = torch::empty({static_cast<std::int64_t>(features.size()), dim}, torch::kFloat64);
    for (std::size_t i = 0; i < features.size(); ++i) {
      if (static_cast<std::int64_t>(features[i].size()) != dim)
        return Fail(ErrorCode::kInvalidArgument, "OOD fit: feature vectors differ in size");
      x[static_cast<std::int64_t>(i)] = ToTensor(features[i], {dim}).to(torch::kFloat64);
    }
    std::vector<int> labels_copy(labels.begin(), labels.end());
    auto y = torch::tensor(labels_copy);
    OodStatistics stats;
    stats.dim = static_cast<int>(dim);
    auto centred = torch::empty_like(x);
    for (int c = 0; c < 2; ++c) {
      auto mask = y == c;
      if (mask.sum().item<std::int64_t>() == 0)
        return Fail(ErrorCode::kInvalidArgument, "OOD fit: both classes must be present");
      auto mean = x.index({mask}).mean(0);
      stats.class_means.push_back(ToVector(mean));
      centred.index_put_({mask}, x.index({mask}) - mean);
    }
    auto covariance = centred.t().matmul(centred) / static_cast<double>(features.size());
    const double mean_variance = covariance.diagonal().mean().item<double>();
    auto shrunk = (1.0 - shrinkage) * covariance +
                  shrinkage * std::max(mean_variance, 1e-12) * torch::eye(dim, torch::kFloat64);
    stats.precision = ToVector(torch::linalg::inv(shrunk));
    return stats;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Fail(ErrorCode::kModelError, "OOD fit failed: " + what.substr(0, what.find('\n')));
  }
}

float MahalanobisScore(const OodStatistics& stats, std::span<const float> feature) {
  const auto d = static_cast<std::size_t>(stats.dim);
  if (feature.size() != d || d == 0) return 0.0f;
  double best = std::numeric_limits<double>::infinity();
  std::vector<double> diff(d);
  for (const auto& mean : stats.class_means) {
    for (std::size_t i = 0; i < d; ++i) diff[i] = static_cast<double>(feature[i]) - mean[i];
    double sum = 0;
    for (std::size_t i = 0; i < d; ++i) {
      const float* row = stats.precision.data() + i * d;
      double dot = 0;
      for (std::size_t j = 0; j < d; ++j) dot += row[j] * diff[j];
      sum += diff[i] * dot;
    }
    best = std::min(best, sum);
  }
  return static_cast<float>(best / static_cast<double>(d));
}

Result<void> SaveOodStatistics(const std::vector<OodStatistics>& per_member,
                               const std::filesystem::path& file) {
  try {
    torch::serialize::OutputArchive archive;
    archive.write("members", torch::tensor(static_cast<std::int64_t>(per_member.size())));
    for (std::size_t m = 0; m < per_member.size(); ++m) {
      const auto& s = per_member[m];
      std::vector<float> means;
      for (const auto& c : s.class_means) means.insert(means.end(), c.begin(), c.end());
      const std::string key = std::to_string(m);
      archive.write("means_" + key,
                    ToTensor(means, {static_cast<std::int64_t>(s.class_means.size()), s.dim}));
      archive.write("precision_" + key, ToTensor(s.precision, {s.dim, s.dim}));
    }
    archive.save_to(file.string());
    return {};
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Fail(ErrorCode::kIoError, "cannot save OOD statistics to " + file.string() + ": " +
                                         what.substr(0, what.find('\n')));
  }
}

Result<std::vector<OodStatistics>> LoadOodStatistics(std::span<const std::uint8_t> bytes) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(reinterpret_cast<const char*>(bytes.data()), bytes.size(), torch::kCPU);
    torch::Tensor count;
    archive.read("members", count);
    std::vector<OodStatistics> out;
    for (std::int64_t m = 0; m < count.item<std::int64_t>(); ++m) {
      torch::Tensor means, precision;
      archive.read("means_" + std::to_string(m), means);
      archive.read("precision_" + std::to_string(m), precision);
      if (means.dim() != 2 || precision.dim() != 2 || precision.size(0) != precision.size(1) ||
          means.size(1) != precision.size(0))
        return Fail(ErrorCode::kModelError, "OOD statistics have inconsistent shapes");
      OodStatistics s;
      s.dim = static_cast<int>(means.size(1));
      for (std::int64_t c = 0; c < means.size(0); ++c) s.class_means.push_back(ToVector(means[c]));
      s.precision = ToVector(precision);
      out.push_back(std::move(s));
    }
    return out;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Fail(ErrorCode::kModelError,
                "cannot read OOD statistics: " + what.substr(0, what.find('\n')));
  }
}

}  // namespace pneumo::model
