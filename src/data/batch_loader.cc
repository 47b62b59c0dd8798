#include "data/batch_loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

namespace pneumo::data {

BatchLoader::BatchLoader(const ImageCache& cache, BatchLoaderOptions options)
    : cache_(cache), options_(std::move(options)) {
  order_.resize(cache_.size());
  std::iota(order_.begin(), order_.end(), 0);
}

BatchLoader::~BatchLoader() { StopWorkers(); }

std::size_t BatchLoader::batches_per_epoch() const {
  const auto b = static_cast<std::size_t>(std::max(1, options_.batch_size));
  return (order_.size() + b - 1) / b;
}

int BatchLoader::side() const {
  return options_.output_side > 0 ? options_.output_side : cache_.input_size();
}

void BatchLoader::StopWorkers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void BatchLoader::StartEpoch(int epoch) {
  StopWorkers();
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle) {
    std::mt19937_64 rng(options_.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    std::shuffle(order_.begin(), order_.end(), rng);
  }
  {
    std::lock_guard lock(mu_);
    ready_.clear();
    next_to_make_ = next_to_return_ = 0;
    stopping_ = false;
  }
  for (int w = 0; w < std::max(1, options_.workers); ++w) {
    workers_.emplace_back([this, epoch] { WorkerLoop(epoch); });
  }
}

void BatchLoader::WorkerLoop(int epoch) {
  const std::size_t total = batches_per_epoch();
  while (true) {
    std::size_t index;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || next_to_make_ >= total ||
               next_to_make_ < next_to_return_ + static_cast<std::size_t>(options_.prefetch);
      });
      if (stopping_ || next_to_make_ >= total) return;
      index = next_to_make_++;
    }
    try {
      Batch batch = MakeBatch(index, epoch);
      std::lock_guard lock(mu_);
      ready_.emplace(index, std::move(batch));
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      if (!failure_) {
        failure_ = Error{ErrorCode::kInternal, "a data loader thread failed making batch " +
                                                   std::to_string(index) + ": " + e.what()};
      }
      stopping_ = true;  // the other workers stop too
    }
    cv_.notify_all();
  }
}

Result<std::optional<Batch>> BatchLoader::Next() {
  std::unique_lock lock(mu_);
  if (failure_) return std::unexpected(*failure_);
  if (workers_.empty() || next_to_return_ >= batches_per_epoch()) return std::nullopt;
  cv_.wait(lock, [&] { return failure_ || ready_.contains(next_to_return_); });
  if (!ready_.contains(next_to_return_))
    return std::unexpected(failure_.value_or(Error{ErrorCode::kInternal, "the loader stopped"}));
  auto node = ready_.extract(next_to_return_++);
  lock.unlock();
  cv_.notify_all();
  return std::move(node.mapped());
}

Batch BatchLoader::MakeBatch(std::size_t batch_index, int epoch) const {
  const std::size_t begin = batch_index * static_cast<std::size_t>(options_.batch_size);
  const std::size_t end =
      std::min(order_.size(), begin + static_cast<std::size_t>(options_.batch_size));
  Batch batch;
  batch.side = side();
  batch.size = static_cast<int>(end - begin);
  const std::size_t plane = static_cast<std::size_t>(batch.side) * batch.side;
  batch.pixels.resize(plane * batch.size);
  for (std::size_t k = begin; k < end; ++k) {
    const std::size_t sample = order_[k];
    cv::Mat x;
    if (options_.augment) {
      // Seeded per (seed, epoch, sample): independent of which worker makes it.
      std::mt19937 rng(
          static_cast<std::uint32_t>(options_.seed * 7919ULL + epoch * 104729ULL + sample));
      x = Augment(cache_.image(sample), options_.augment_options, rng);
    } else {
      x = cache_.image(sample);
    }
    // What serving does to an upload, in the same order: trim, resize, then normalise.
    if (options_.normalization.borders == "uniform") x = image::TrimUniformBorders(x);
    x = image::ResizeForModel(x, batch.side);  // a copy even at the same size
    image::NormalizeInPlace(x, options_.normalization);
    if (!x.isContinuous()) x = x.clone();
    std::memcpy(batch.pixels.data() + (k - begin) * plane, x.ptr<float>(), plane * sizeof(float));
    batch.labels.push_back(cache_.label(sample));
    batch.indices.push_back(sample);
  }
  return batch;
}

}  // namespace pneumo::data
