#include "infer/batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <latch>
#include <memory>
#include <numeric>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pneumo::infer {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

cv::Mat ImageOf(float value) { return cv::Mat(4, 4, CV_32FC1, cv::Scalar(value)); }

// Blocks the fake model until Open(); lets the test know when the model has been entered.
class Gate {
 public:
  void Enter() {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void WaitUntilEntered(int times) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= times; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;    // GUARDED_BY(mu_)
  bool open_ = false;  // GUARDED_BY(mu_)
};

// A model that answers each image's mean pixel and records the size of every batch.
struct FakeModel {
  std::mutex mu;
  std::vector<int> batch_sizes;  // GUARDED_BY(mu)
  std::function<void()> before;  // runs inside each call (may block, sleep or throw)

  BatchFunction Function() {
    return [this](std::span<const cv::Mat> images) -> Result<std::vector<float>> {
      {
        std::lock_guard lock(mu);
        batch_sizes.push_back(static_cast<int>(images.size()));
      }
      if (before) before();
      std::vector<float> out;
      for (const cv::Mat& m : images) out.push_back(static_cast<float>(cv::mean(m)[0]));
      return out;
    };
  }
  std::vector<int> BatchSizes() {
    std::lock_guard lock(mu);
    return batch_sizes;
  }
};

TEST(Batcher, GathersConcurrentRequestsAndAnswersEachCallerItsOwnValue) {
  FakeModel model;
  Batcher batcher(model.Function(), {.max_batch_size = 8, .max_wait = 200ms});
  constexpr int kThreads = 32;
  std::latch start(kThreads);
  std::vector<float> got(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto future = batcher.Submit(ImageOf(static_cast<float>(i)));
      ASSERT_TRUE(future) << future.error().ToString();
      auto output = future->get();
      ASSERT_TRUE(output) << output.error().ToString();
      got[i] = output->value;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(got[i], static_cast<float>(i));

  const std::vector<int> sizes = model.BatchSizes();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), kThreads);
  EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), 1);
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()), 8);
}

TEST(Batcher, NeverExceedsMaxBatchSize) {
  FakeModel model;
  Gate gate;
  std::atomic<int> calls = 0;
  model.before = [&] {
    if (calls++ == 0) gate.Enter();
  };
  Batcher batcher(model.Function(), {.max_batch_size = 4, .max_wait = 0us});
  std::vector<std::future<Result<BatchOutput>>> futures;
  futures.push_back(*batcher.Submit(ImageOf(0)));
  gate.WaitUntilEntered(1);
  for (int i = 1; i <= 10; ++i) futures.push_back(*batcher.Submit(ImageOf(static_cast<float>(i))));
  EXPECT_EQ(batcher.queue_depth(), 10u);
  gate.Open();
  for (std::size_t i = 0; i < futures.size(); ++i) {
    auto output = futures[i].get();
    ASSERT_TRUE(output);
    EXPECT_EQ(output->value, static_cast<float>(i));
    EXPECT_LE(output->batch_size, 4);
  }
  const std::vector<int> sizes = model.BatchSizes();
  EXPECT_EQ(sizes, (std::vector<int>{1, 4, 4, 2}));
}

TEST(Batcher, AnswersALoneRequestAfterAboutMaxWait) {
  FakeModel model;
  Batcher batcher(model.Function(), {.max_batch_size = 16, .max_wait = 30ms});
  const auto start = Clock::now();
  auto future = batcher.Submit(ImageOf(7));
  ASSERT_TRUE(future);
  ASSERT_EQ(future->wait_for(5s), std::future_status::ready);
  const auto elapsed = Clock::now() - start;
  auto output = future->get();
  ASSERT_TRUE(output);
  EXPECT_EQ(output->value, 7);
  EXPECT_EQ(output->batch_size, 1);
  EXPECT_GE(elapsed, 25ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_GE(output->queue_time, 25ms);
}

TEST(Batcher, RejectsAtOnceWhenQueueIsFull) {
  FakeModel model;
  Gate gate;
  model.before = [&] { gate.Enter(); };
  Batcher batcher(model.Function(), {.max_batch_size = 1, .max_wait = 0us, .max_queue = 2});
  auto first = batcher.Submit(ImageOf(1));
  ASSERT_TRUE(first);
  gate.WaitUntilEntered(1);  // the worker holds the first request; the queue is empty again
  auto second = batcher.Submit(ImageOf(2));
  auto third = batcher.Submit(ImageOf(3));
  ASSERT_TRUE(second);
  ASSERT_TRUE(third);

  const auto start = Clock::now();
  auto rejected = batcher.Submit(ImageOf(4));
  EXPECT_LT(Clock::now() - start, 1s);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kBusy);
  EXPECT_NE(rejected.error().message.find("queue full: 2 requests waiting"), std::string::npos)
      << rejected.error().message;

  gate.Open();
  EXPECT_EQ(first->get()->value, 1);
  EXPECT_EQ(second->get()->value, 2);
  EXPECT_EQ(third->get()->value, 3);
  auto later = batcher.Submit(ImageOf(5));
  ASSERT_TRUE(later);  // room again once the worker caught up
  EXPECT_EQ(later->get()->value, 5);
}

TEST(Batcher, FailsOnlyTheBatchWhoseFunctionFailsOrThrows) {
  int call = 0;
  BatchFunction function = [&](std::span<const cv::Mat> images) -> Result<std::vector<float>> {
    switch (call++) {
      case 0:
        return Fail(ErrorCode::kModelError, "forward pass failed");
      case 1:
        throw std::runtime_error("boom");
      case 2:
        throw 42;
      case 3:
        return std::vector<float>(images.size() + 1, 0.f);  // wrong size
      default:
        return std::vector<float>(images.size(), 0.5f);
    }
  };
  Batcher batcher(function, {.max_batch_size = 1, .max_wait = 0us});
  auto run = [&] { return batcher.Submit(ImageOf(0)).value().get(); };

  auto failed = run();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kModelError);
  EXPECT_EQ(failed.error().message, "forward pass failed");

  auto threw = run();
  ASSERT_FALSE(threw);
  EXPECT_EQ(threw.error().code, ErrorCode::kInternal);
  EXPECT_NE(threw.error().message.find("boom"), std::string::npos);

  auto threw_other = run();
  ASSERT_FALSE(threw_other);
  EXPECT_EQ(threw_other.error().code, ErrorCode::kInternal);

  auto wrong_size = run();
  ASSERT_FALSE(wrong_size);
  EXPECT_EQ(wrong_size.error().code, ErrorCode::kInternal);

  auto ok = run();
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->value, 0.5f);
}

TEST(Batcher, DropsRequestsWhoseDeadlinePassedInTheQueue) {
  FakeModel model;
  Gate gate;
  std::atomic<int> calls = 0;
  model.before = [&] {
    if (calls++ == 0) gate.Enter();
  };
  Batcher batcher(model.Function(), {.max_batch_size = 4, .max_wait = 0us});
  auto blocker = batcher.Submit(ImageOf(1));
  gate.WaitUntilEntered(1);
  auto expiring = batcher.Submit(ImageOf(2), Clock::now() + 10ms);
  auto patient = batcher.Submit(ImageOf(3), Clock::now() + 60s);
  ASSERT_TRUE(expiring);
  ASSERT_TRUE(patient);
  std::this_thread::sleep_for(50ms);
  gate.Open();

  EXPECT_EQ(blocker->get()->value, 1);
  auto dropped = expiring->get();
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(dropped.error().message, "timed out in queue");
  auto kept = patient->get();
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->value, 3);
  EXPECT_EQ(kept->batch_size, 1);
}

TEST(Batcher, DestructionWithPendingRequestsDoesNotHang) {
  FakeModel model;
  std::vector<std::future<Result<BatchOutput>>> futures;
  const auto start = Clock::now();
  {
    // A long max_wait: without shutdown handling these would sit for a minute.
    Batcher batcher(model.Function(), {.max_batch_size = 16, .max_wait = 60s});
    for (int i = 0; i < 5; ++i) futures.push_back(*batcher.Submit(ImageOf(static_cast<float>(i))));
  }
  EXPECT_LT(Clock::now() - start, 5s);
  for (std::size_t i = 0; i < futures.size(); ++i) {
    ASSERT_EQ(futures[i].wait_for(0s), std::future_status::ready);
    auto output = futures[i].get();
    if (output) {
      EXPECT_EQ(output->value, static_cast<float>(i));
    } else {
      EXPECT_EQ(output.error().code, ErrorCode::kUnavailable);
      EXPECT_EQ(output.error().message, "shutting down");
    }
  }
}

TEST(Batcher, DestructionFinishesTheRunningBatchAndFailsTheQueued) {
  FakeModel model;
  Gate gate;
  model.before = [&] { gate.Enter(); };
  std::vector<std::future<Result<BatchOutput>>> futures;
  auto batcher = std::make_unique<Batcher>(model.Function(),
                                           BatcherOptions{.max_batch_size = 1, .max_wait = 0us});
  for (int i = 0; i < 4; ++i) futures.push_back(*batcher->Submit(ImageOf(static_cast<float>(i))));
  gate.WaitUntilEntered(1);
  std::thread destroyer([&] { batcher.reset(); });
  std::this_thread::sleep_for(20ms);
  gate.Open();
  destroyer.join();

  auto running = futures[0].get();
  ASSERT_TRUE(running);
  EXPECT_EQ(running->value, 0);
  for (std::size_t i = 1; i < futures.size(); ++i) {
    ASSERT_EQ(futures[i].wait_for(0s), std::future_status::ready);
    auto output = futures[i].get();
    if (output) continue;  // the worker may have taken it before seeing the shutdown
    EXPECT_EQ(output.error().code, ErrorCode::kUnavailable);
  }
}

TEST(Batcher, ReportsQueueTimeComputeTimeAndBatchSize) {
  FakeModel model;
  model.before = [] { std::this_thread::sleep_for(20ms); };
  Batcher batcher(model.Function(), {.max_batch_size = 2, .max_wait = 5s});
  auto a = batcher.Submit(ImageOf(1));
  auto b = batcher.Submit(ImageOf(2));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  auto out_a = a->get();
  auto out_b = b->get();
  ASSERT_TRUE(out_a);
  ASSERT_TRUE(out_b);
  EXPECT_EQ(out_a->batch_size, 2);
  EXPECT_EQ(out_b->batch_size, 2);
  EXPECT_GE(out_a->compute_time, 15ms);
  EXPECT_LT(out_a->compute_time, 5s);
  EXPECT_EQ(out_a->compute_time, out_b->compute_time);
  EXPECT_GE(out_a->queue_time, 0us);
  EXPECT_GE(out_a->queue_time, out_b->queue_time);  // a waited at least as long as b
  EXPECT_LT(out_a->queue_time, 4s);                 // the full batch did not wait for max_wait
}

}  // namespace
}  // namespace pneumo::infer

namespace pneumo::infer {
namespace {

TEST(Batcher, HandsEachRequestAllOfItsValues) {
  // Two values per image: the mean, and the mean plus 100.
  BatchFunction two = [](std::span<const cv::Mat> images) -> Result<std::vector<float>> {
    std::vector<float> out;
    for (const cv::Mat& m : images) {
      out.push_back(static_cast<float>(cv::mean(m)[0]));
      out.push_back(static_cast<float>(cv::mean(m)[0] + 100));
    }
    return out;
  };
  Batcher batcher(
      two, {.max_batch_size = 4, .max_wait = std::chrono::milliseconds(50), .values_per_image = 2});
  std::vector<std::future<Result<BatchOutput>>> futures;
  for (int v : {3, 7, 9})
    futures.push_back(*batcher.Submit(cv::Mat(4, 4, CV_32FC1, cv::Scalar(v))));
  for (int k = 0; k < 3; ++k) {
    auto out = futures[k].get();
    ASSERT_TRUE(out);
    const float v = std::array{3.f, 7.f, 9.f}[k];
    EXPECT_FLOAT_EQ(out->value, v);
    ASSERT_EQ(out->extra.size(), 1u);
    EXPECT_FLOAT_EQ(out->extra[0], v + 100);
  }
  // A function that forgets the second value fails its batch instead of misaligning answers.
  Batcher wrong(
      [](std::span<const cv::Mat> images) -> Result<std::vector<float>> {
        return std::vector<float>(images.size(), 1.0f);
      },
      {.values_per_image = 2});
  auto out = batcher.Submit(cv::Mat(4, 4, CV_32FC1, cv::Scalar(1)));
  EXPECT_TRUE(out->get());
  EXPECT_FALSE(wrong.Submit(cv::Mat(4, 4, CV_32FC1, cv::Scalar(1)))->get());
}

}  // namespace
}  // namespace pneumo::infer
