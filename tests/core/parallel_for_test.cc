#include "core/parallel_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace pneumo {
namespace {

TEST(ParallelFor, RunsEveryIndexOnce) {
  std::vector<std::atomic<int>> seen(1000);
  auto done = ParallelFor(0, seen.size(), 4, [&](std::size_t i) { ++seen[i]; });
  ASSERT_TRUE(done);
  for (const auto& count : seen) EXPECT_EQ(count.load(), 1);
}

TEST(ParallelFor, AnExceptionOnAWorkerThreadIsAnErrorNotATerminate) {
  std::atomic<int> ran{0};
  auto done = ParallelFor(0, 10000, 3, [&](std::size_t i) {
    ++ran;
    if (i == 17) throw std::runtime_error("decoder gave up on image 17");
  });
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kInternal);
  EXPECT_NE(done.error().message.find("decoder gave up on image 17"), std::string::npos)
      << done.error().message;
}

TEST(ParallelFor, AfterAnExceptionTheIndicesNotYetClaimedAreSkipped) {
  // One thread, so which indices were claimed before the throw is known (with several, the others
  // may finish everything while the exception unwinds).
  int ran = 0;
  auto done = ParallelFor(0, 100, 1, [&](std::size_t i) {
    ++ran;
    if (i == 17) throw std::runtime_error("stop");
  });
  ASSERT_FALSE(done);
  EXPECT_EQ(ran, 18);
}

TEST(ParallelFor, AnExceptionThatIsNoStdExceptionIsCaughtToo) {
  auto done = ParallelFor(0, 4, 2, [](std::size_t) { throw 42; });
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("not a std::exception"), std::string::npos);
}

}  // namespace
}  // namespace pneumo
