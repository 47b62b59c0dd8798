#include "train/progress_bar.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace pneumo::train {

ProgressBar::ProgressBar(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      is_tty_(isatty(STDERR_FILENO) == 1) {}

std::string ProgressBar::FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

void ProgressBar::Update(std::size_t done,
                         const std::vector<std::pair<std::string, double>>& values,
                         double items_per_second) {
  if (!enabled_ || total_ == 0) return;
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  const int tenth = static_cast<int>(fraction * 10);
  if (!is_tty_ && tenth == last_tenth_ && done != total_) return;
  last_tenth_ = tenth;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta =
      done == 0 ? NAN : elapsed / static_cast<double>(done) * static_cast<double>(total_ - done);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<std::size_t>(kWidth - filled - 1), ' ');
  std::string fields;
  for (const auto& [name, value] : values) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s %.4f", name.c_str(), value);
    fields += buf;
  }
  std::fprintf(stderr, "%s%s [%s] %zu/%zu%s %.1f img/s ETA %s%s", is_tty_ ? "\r\033[K" : "",
               label_.c_str(), bar.c_str(), done, total_, fields.c_str(), items_per_second,
               FormatDuration(eta).c_str(), is_tty_ ? "" : "\n");
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (enabled_ && is_tty_) std::fprintf(stderr, "\n");
}

}  // namespace pneumo::train
