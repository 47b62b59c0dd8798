// A one-line progress bar on stderr: bar, count, loss, images/s and ETA.
//
//   ProgressBar bar("epoch 3/30", total_batches);
//   bar.Update(done_batches, {{"loss", 0.231}}, images_per_second);
//   bar.Finish();
//
// On a terminal the line redraws in place; otherwise (CI logs) it prints a line at each tenth.
// Not thread-safe: one thread drives a bar.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace pneumo::train {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total, bool enabled = true);
  void Update(std::size_t done, const std::vector<std::pair<std::string, double>>& values,
              double items_per_second);
  void Finish();

  // "1:05:09" / "04:09" for an ETA or duration in seconds.
  static std::string FormatDuration(double seconds);

 private:
  std::string label_;
  std::size_t total_;
  bool enabled_;
  bool is_tty_;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace pneumo::train
