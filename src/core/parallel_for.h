// Runs a function over an index range on a few threads, each taking the next unclaimed index.
//
//   ParallelFor(0, files.size(), /*threads=*/2, [&](std::size_t i) { decoded[i] = Decode(files[i]);
//   });
//
// Returns when every index is done. `fn` must be safe to call concurrently for different indices.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace pneumo {

template <typename Fn>
void ParallelFor(std::size_t begin, std::size_t end, int threads, Fn&& fn) {
  std::atomic<std::size_t> next{begin};
  auto work = [&] {
    for (std::size_t i = next++; i < end; i = next++) fn(i);
  };
  std::vector<std::jthread> pool;
  for (int t = 1; t < std::max(1, threads); ++t) pool.emplace_back(work);
  work();  // the calling thread takes a share too
}  // pool joins here

}  // namespace pneumo
