#include "infer/batcher.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace pneumo::infer {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

BatcherOptions Sanitised(BatcherOptions options) {
  options.max_batch_size = std::max(options.max_batch_size, 1);
  options.max_queue = std::max<std::size_t>(options.max_queue, 1);
  options.max_wait = std::max(options.max_wait, microseconds{0});
  return options;
}

}  // namespace

Batcher::Batcher(BatchFunction batch_function, BatcherOptions options)
    : batch_function_(std::move(batch_function)),
      options_(Sanitised(options)),
      worker_([this] { WorkerLoop(); }) {}

Batcher::~Batcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  worker_.join();
}

Result<std::future<Result<BatchOutput>>> Batcher::Submit(cv::Mat prepared,
                                                         Clock::time_point deadline) {
  std::future<Result<BatchOutput>> future;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Fail(ErrorCode::kUnavailable, "shutting down");
    if (queue_.size() >= options_.max_queue) {
      return Fail(ErrorCode::kBusy,
                  "queue full: " + std::to_string(queue_.size()) + " requests waiting");
    }
    Request& request = queue_.emplace_back(
        Request{std::move(prepared), Clock::now(), deadline, std::promise<Result<BatchOutput>>()});
    future = request.promise.get_future();
  }
  work_cv_.notify_one();
  return future;
}

std::size_t Batcher::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void Batcher::WorkerLoop() {
  const auto max_batch = static_cast<std::size_t>(options_.max_batch_size);
  std::vector<Request> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (!stopping_) {
        // Wait for a full batch, but no longer than max_wait after its first request arrived.
        const Clock::time_point run_by = queue_.front().enqueued + options_.max_wait;
        work_cv_.wait_until(lock, run_by, [&] { return stopping_ || queue_.size() >= max_batch; });
      }
      if (stopping_) {
        for (Request& request : queue_) {
          request.promise.set_value(Fail(ErrorCode::kUnavailable, "shutting down"));
        }
        queue_.clear();
        return;
      }
      const Clock::time_point now = Clock::now();
      while (!queue_.empty() && batch.size() < max_batch) {
        Request& request = queue_.front();
        if (request.deadline < now) {
          request.promise.set_value(Fail(ErrorCode::kTimeout, "timed out in queue"));
        } else {
          batch.push_back(std::move(request));
        }
        queue_.pop_front();
      }
    }
    if (!batch.empty()) RunBatch(batch);
  }
}

void Batcher::RunBatch(std::vector<Request>& batch) {
  std::vector<cv::Mat> images;
  images.reserve(batch.size());
  for (const Request& request : batch) images.push_back(request.image);

  const Clock::time_point start = Clock::now();
  Result<std::vector<float>> values = Fail(ErrorCode::kInternal, "batch function did not run");
  try {
    values = batch_function_(std::span<const cv::Mat>(images));
  } catch (const std::exception& e) {
    values = Fail(ErrorCode::kInternal, std::string("batch function threw: ") + e.what());
  } catch (...) {
    values = Fail(ErrorCode::kInternal, "batch function threw a non-standard exception");
  }
  const auto compute_time = duration_cast<microseconds>(Clock::now() - start);

  const std::size_t per_image = static_cast<std::size_t>(std::max(1, options_.values_per_image));
  if (values && values->size() != batch.size() * per_image) {
    values =
        Fail(ErrorCode::kInternal, "batch function returned " + std::to_string(values->size()) +
                                       " values for " + std::to_string(batch.size()) + " images");
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Request& request = batch[i];
    if (!values) {
      request.promise.set_value(std::unexpected(values.error()));
      continue;
    }
    request.promise.set_value(BatchOutput{
        .value = (*values)[i * per_image],
        .extra =
            std::vector<float>(values->begin() + static_cast<std::ptrdiff_t>(i * per_image + 1),
                               values->begin() + static_cast<std::ptrdiff_t>((i + 1) * per_image)),
        .queue_time = duration_cast<microseconds>(start - request.enqueued),
        .compute_time = compute_time,
        .batch_size = static_cast<int>(batch.size()),
    });
  }
}

}  // namespace pneumo::infer
