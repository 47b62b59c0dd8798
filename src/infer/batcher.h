// Dynamic batching in front of a model: concurrent requests are gathered into one forward pass.
//
//   Batcher batcher([&](std::span<const cv::Mat> xs) { return predictor->Logits(xs); }, {});
//   auto future = batcher.Submit(predictor->Prepare(gray));       // kBusy when full
//   if (!future) return Answer503(future.error());                 // with Retry-After
//   if (future->wait_for(timeout) != std::future_status::ready) return Answer504();
//
// One worker thread owned by the Batcher is the only caller of the batch function, so the model
// it wraps has a single owner. HTTP threads call Submit and wait on the returned future.
//
// Thread-safety: Submit and queue_depth may be called from any number of threads at once. The
// destructor must not race with other calls on the same object.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <opencv2/core/mat.hpp>
#include <span>
#include <thread>
#include <vector>

#include "core/error.h"

namespace pneumo::infer {

struct BatcherOptions {
  // Default 8. Most requests run in one call of the batch function. Values below 1 count as 1.
  // 8 rather than more: on two cores a batch of 8 already keeps the model thread busy, and a
  // larger one only makes the first request of a batch wait longer (bench/README.md).
  int max_batch_size = 8;
  // Default 2 ms. The longest the first request of a batch waits for company before the batch
  // runs anyway. Zero runs whatever is queued at once.
  std::chrono::microseconds max_wait{2000};
  // Default 256. Requests waiting (not counting the batch being computed) beyond which Submit
  // answers kUnavailable instead of queueing. Values below 1 count as 1.
  std::size_t max_queue = 256;
  // Default 1. Numbers the batch function returns per image, image after image (e.g. 2: the
  // logit and the OOD score); the first is BatchOutput::value, the others BatchOutput::extra.
  int values_per_image = 1;
};

// What one request gets back.
struct BatchOutput {
  float value = 0;                          // this request's element of the batch function's output
  std::vector<float> extra;                 // its further values when values_per_image > 1
  std::chrono::microseconds queue_time{0};  // from Submit to the start of its batch's call
  std::chrono::microseconds compute_time{0};  // duration of the batch function call
  int batch_size = 0;                         // requests in the call that computed it
};

// Takes prepared images, returns values_per_image values per image, in order. Called only on the
// Batcher's worker thread, never concurrently. Errors and exceptions fail that batch's requests
// only.
using BatchFunction = std::function<Result<std::vector<float>>(std::span<const cv::Mat>)>;

class Batcher {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts the worker thread.
  Batcher(BatchFunction batch_function, BatcherOptions options);
  // Stops accepting requests, lets the batch being computed finish, fails every request still
  // queued with kUnavailable ("shutting down") and joins the worker.
  ~Batcher();

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues one prepared image. Returns kUnavailable at once when the queue is full or the
  // Batcher is shutting down; otherwise a future that always becomes ready with the value or an
  // error. The pixel data is shared, not copied (cv::Mat is reference counted): do not write to
  // it after submitting.
  //
  // Per-request timeouts are the caller's: wait with future.wait_for(timeout) and give up when
  // it expires. Pass the same moment as `deadline` so that a request whose caller has given up
  // is dropped (kUnavailable, "timed out in queue") if its batch has not started by then; a
  // request whose batch has started is still computed.
  Result<std::future<Result<BatchOutput>>> Submit(
      cv::Mat prepared, Clock::time_point deadline = Clock::time_point::max());

  // Requests waiting to be batched (not counting the batch being computed).
  std::size_t queue_depth() const;

 private:
  struct Request {
    cv::Mat image;
    Clock::time_point enqueued;
    Clock::time_point deadline;
    std::promise<Result<BatchOutput>> promise;
  };

  void WorkerLoop();
  void RunBatch(std::vector<Request>& batch);

  const BatchFunction batch_function_;
  const BatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // signalled on Submit and on shutdown; the worker waits
  std::deque<Request> queue_;        // GUARDED_BY(mu_)
  bool stopping_ = false;            // GUARDED_BY(mu_)

  std::thread worker_;  // last: starts after every other member is initialised
};

}  // namespace pneumo::infer
