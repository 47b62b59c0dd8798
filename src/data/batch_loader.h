// Produces training or evaluation batches from an ImageCache on worker threads, so that
// augmentation overlaps with the network's forward and backward passes.
//
//   BatchLoader loader(cache, {.batch_size = 32, .shuffle = true, .augment = true, .seed = 42});
//   loader.StartEpoch(epoch);
//   for (;;) {
//     Result<std::optional<Batch>> next = loader.Next();
//     if (!next) return std::unexpected(next.error());   // a worker failed making a batch
//     if (!*next) break;                                  // the epoch is done
//     train_step((*next)->pixels, (*next)->labels);
//   }
//
// Batches come out in a fixed order and each sample's augmentation is seeded by (seed, epoch,
// sample), so a run is reproducible whatever the thread timing. Next() and StartEpoch() must be
// called from one thread; workers are internal. An exception on a worker (OpenCV refusing an
// image, memory running out) ends the epoch with an Error from Next(), never std::terminate.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"
#include "data/augment.h"
#include "data/image_cache.h"
#include "image/preprocess.h"

namespace pneumo::data {

struct Batch {
  std::vector<float> pixels;  // size * side * side, normalised, row-major NCHW with C = 1
  std::vector<int> labels;
  std::vector<std::size_t> indices;  // positions in the cache
  int size = 0;
  int side = 0;
};

struct BatchLoaderOptions {
  int batch_size = 32;
  bool shuffle = true;  // new permutation each epoch
  bool augment = true;
  AugmentOptions augment_options;
  image::Normalization normalization;
  int output_side = 0;  // side of the batches' images; 0: the cache's
  int workers = 1;      // augmentation threads
  int prefetch = 4;     // batches ready ahead of the consumer
  std::uint64_t seed = 42;
};

class BatchLoader {
 public:
  BatchLoader(const ImageCache& cache, BatchLoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  void StartEpoch(int epoch);
  // nullopt once the epoch's batches are exhausted; kInternal when a worker failed (the epoch
  // cannot go on: its batches come out in order).
  Result<std::optional<Batch>> Next();
  std::size_t batches_per_epoch() const;
  int side() const;

 private:
  void StopWorkers();
  void WorkerLoop(int epoch);
  Batch MakeBatch(std::size_t batch_index, int epoch) const;

  const ImageCache& cache_;
  const BatchLoaderOptions options_;
  std::vector<std::size_t> order_;  // written only while no worker runs

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, Batch> ready_;  // GUARDED_BY(mu_)
  std::size_t next_to_make_ = 0;        // GUARDED_BY(mu_)
  std::size_t next_to_return_ = 0;      // GUARDED_BY(mu_)
  bool stopping_ = false;               // GUARDED_BY(mu_)
  std::optional<Error> failure_;        // GUARDED_BY(mu_): the first worker's exception
  std::vector<std::thread> workers_;
};

}  // namespace pneumo::data
