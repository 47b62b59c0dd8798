// Runs a function over an index range on a few threads, each taking the next unclaimed index.
//
//   Result<void> done = ParallelFor(0, files.size(), /*threads=*/2,
//                                   [&](std::size_t i) { decoded[i] = Decode(files[i]); });
//   if (!done) return std::unexpected(done.error());   // an exception escaped `fn`
//
// Returns when every index is done. `fn` must be safe to call concurrently for different indices.
// An exception thrown by `fn` on any thread (the caller's included) never reaches std::terminate:
// the indices not yet claimed are skipped, and the first exception comes back as a kInternal
// Error that names it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

namespace pneumo {

template <typename Fn>
[[nodiscard]] Result<void> ParallelFor(std::size_t begin, std::size_t end, int threads, Fn&& fn) {
  std::atomic<std::size_t> next{begin};
  std::mutex failure_mu;
  std::optional<Error> failure;  // GUARDED_BY(failure_mu): the first exception's
  auto fail = [&](std::string_view what) {
    std::lock_guard lock(failure_mu);
    if (!failure)
      failure = Error{ErrorCode::kInternal, "a worker thread failed: " + std::string(what)};
    next = end;  // no new indices are claimed
  };
  auto work = [&] {
    try {
      for (std::size_t i = next++; i < end; i = next++) fn(i);
    } catch (const std::exception& e) {
      fail(e.what());
    } catch (...) {
      fail("an exception that is not a std::exception");
    }
  };
  {
    std::vector<std::jthread> pool;
    for (int t = 1; t < std::max(1, threads); ++t) pool.emplace_back(work);
    work();  // the calling thread takes a share too
  }          // pool joins here
  if (failure) return std::unexpected(*failure);
  return {};
}

}  // namespace pneumo
