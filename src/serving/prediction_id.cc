#include "serving/prediction_id.h"

#include <array>
#include <chrono>
#include <ctime>
#include <random>

namespace pneumo::serving {
namespace {
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

std::string NewPredictionId(std::int64_t unix_ms) {
  // One engine per thread, seeded from the OS: no lock on the hot path, no shared sequence.
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  std::string id(26, '0');
  auto time = static_cast<std::uint64_t>(unix_ms) & ((std::uint64_t{1} << 48) - 1);
  for (int i = 9; i >= 0; --i) {  // 10 characters carry the 48-bit time (50 bits, top 2 zero)
    id[i] = kCrockford[time & 31];
    time >>= 5;
  }
  std::uint64_t random_high = engine() & ((std::uint64_t{1} << 40) - 1);
  std::uint64_t random_low = engine() & ((std::uint64_t{1} << 40) - 1);
  for (int i = 25; i >= 18; --i, random_low >>= 5) id[i] = kCrockford[random_low & 31];
  for (int i = 17; i >= 10; --i, random_high >>= 5) id[i] = kCrockford[random_high & 31];
  return id;
}

bool IsPredictionId(std::string_view text) {
  if (text.size() != 26) return false;
  for (char c : text) {
    if (kCrockford.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoUtc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 40> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  return std::string(text.data(), n) + "." + std::to_string(1000 + unix_ms % 1000).substr(1) + "Z";
}

}  // namespace pneumo::serving
