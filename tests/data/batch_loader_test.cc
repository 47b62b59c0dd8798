#include "data/batch_loader.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "testing/synthetic_xrays.h"
#include "testing/temp_dir.h"

namespace pneumo::data {
namespace {

class BatchLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteSyntheticFolder(dir_.path(), 13, 1);
    auto images = ScanImageFolder(dir_.path());
    ASSERT_TRUE(images);
    auto cache = ImageCache::Build(*images, 32, 2);
    ASSERT_TRUE(cache);
    cache_ = std::move(*cache);
  }
  std::vector<Batch> Epoch(BatchLoaderOptions options, int epoch) {
    BatchLoader loader(cache_, options);
    loader.StartEpoch(epoch);
    std::vector<Batch> out;
    for (;;) {
      auto next = loader.Next();
      EXPECT_TRUE(next) << next.error().ToString();
      if (!next || !*next) break;
      out.push_back(std::move(**next));
    }
    return out;
  }
  testing::TempDir dir_;
  ImageCache cache_;
};

TEST_F(BatchLoaderTest, VisitsEverySampleOncePerEpoch) {
  auto batches = Epoch({.batch_size = 8, .workers = 2}, 0);
  ASSERT_EQ(batches.size(), 4u);  // 26 samples: 8, 8, 8, 2
  EXPECT_EQ(batches.back().size, 2);
  std::vector<std::size_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.pixels.size(), static_cast<std::size_t>(b.size) * 32 * 32);
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  std::sort(seen.begin(), seen.end());
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
}

TEST_F(BatchLoaderTest, GivesTheSameBatchesWhateverTheNumberOfWorkers) {
  auto one = Epoch({.batch_size = 8, .workers = 1, .seed = 9}, 3);
  auto three = Epoch({.batch_size = 8, .workers = 3, .seed = 9}, 3);
  ASSERT_EQ(one.size(), three.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].indices, three[i].indices);
    EXPECT_EQ(one[i].pixels, three[i].pixels);
  }
}

TEST_F(BatchLoaderTest, ShufflesDifferentlyEachEpochAndNotAtAllWhenAsked) {
  auto e0 = Epoch({.batch_size = 26}, 0), e1 = Epoch({.batch_size = 26}, 1);
  EXPECT_NE(e0[0].indices, e1[0].indices);
  auto ordered = Epoch({.batch_size = 26, .shuffle = false, .augment = false}, 0);
  for (std::size_t i = 0; i < ordered[0].indices.size(); ++i) EXPECT_EQ(ordered[0].indices[i], i);
}

TEST_F(BatchLoaderTest, StopsCleanlyInTheMiddleOfAnEpoch) {
  BatchLoader loader(cache_, {.batch_size = 2, .workers = 2, .prefetch = 1});
  loader.StartEpoch(0);
  auto first = loader.Next();
  ASSERT_TRUE(first && *first);
  loader.StartEpoch(1);  // abandons epoch 0's workers
  auto again = loader.Next();
  EXPECT_TRUE(again && *again);
}  // destructor joins with batches pending

// OpenCV throws on an image it cannot resize (here an empty one) while a worker thread makes the
// batch: the epoch ends with an Error naming it, instead of std::terminate.
TEST(BatchLoader, AWorkerThatThrowsEndsTheEpochWithAnError) {
  std::vector<cv::Mat> images(8, cv::Mat(32, 32, CV_32F, cv::Scalar(0.5)));
  images[5] = cv::Mat();
  ImageCache cache = ImageCache::FromImages(std::move(images), {0, 1, 0, 1, 0, 1, 0, 1}, 32);
  BatchLoader loader(
      cache, {.batch_size = 2, .shuffle = false, .augment = true, .output_side = 24, .workers = 2});
  loader.StartEpoch(0);
  std::optional<Error> failure;
  for (int i = 0; i < 10 && !failure; ++i) {
    auto next = loader.Next();
    if (!next)
      failure = next.error();
    else if (!*next)
      break;
  }
  ASSERT_TRUE(failure) << "the batch holding the empty image came out";
  EXPECT_EQ(failure->code, ErrorCode::kInternal);
  EXPECT_NE(failure->message.find("data loader thread failed"), std::string::npos)
      << failure->message;
  EXPECT_FALSE(loader.Next()) << "the loader stays failed";
}

}  // namespace
}  // namespace pneumo::data
