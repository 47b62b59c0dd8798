#include "train/progress_bar.h"

#include <gtest/gtest.h>

namespace pneumo::train {
namespace {

TEST(ProgressBar, FormatsDurationsForHumans) {
  EXPECT_EQ(ProgressBar::FormatDuration(0), "00:00");
  EXPECT_EQ(ProgressBar::FormatDuration(249), "04:09");
  EXPECT_EQ(ProgressBar::FormatDuration(3909), "1:05:09");
  EXPECT_EQ(ProgressBar::FormatDuration(-1), "--:--");
}

TEST(ProgressBar, PrintsLossRateAndEtaToStderr) {
  ::testing::internal::CaptureStderr();
  ProgressBar bar("epoch 1/2", 10);
  bar.Update(5, {{"loss", 0.25}}, 42.0);
  bar.Finish();
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("epoch 1/2"), std::string::npos);
  EXPECT_NE(out.find("5/10"), std::string::npos);
  EXPECT_NE(out.find("loss 0.2500"), std::string::npos);
  EXPECT_NE(out.find("42.0 img/s"), std::string::npos);
  EXPECT_NE(out.find("ETA"), std::string::npos);
}

TEST(ProgressBar, StaysQuietWhenDisabled) {
  ::testing::internal::CaptureStderr();
  ProgressBar bar("x", 10, /*enabled=*/false);
  bar.Update(5, {}, 1.0);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace pneumo::train
