// Failed-login rate limiting, per account and per client address, in memory.
//
//   LoginLimiter limiter({.per_account = 5, .per_address = 20, .window =
//   std::chrono::minutes(15)}); if (auto allowed = limiter.Check("ada", "10.0.0.7", now_ms);
//   !allowed) return allowed.error(); if (!password_ok) limiter.RecordFailure("ada", "10.0.0.7",
//   now_ms); else limiter.RecordSuccess("ada");
//
// A sliding window: an account (or address) with `per_account` (`per_address`) failures within
// the last `window` is refused until the oldest of them leaves the window. Refused attempts are
// not counted, so an attacker cannot keep a user locked out beyond one window per burst. The
// state is per process: behind a load balancer each server counts on its own.
//
// Thread-safe: one mutex around the maps.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

namespace pneumo::auth {

struct LoginLimits {
  int per_account = 5;                               // failures per account within `window`
  int per_address = 20;                              // failures per client address within `window`
  std::chrono::milliseconds window{15 * 60 * 1000};  // 15 minutes
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimits limits) : limits_(limits) {}

  // kRateLimited, with the wait in the message ("try again in 4 min 10 s"), when the account or
  // the address is over its limit at `now_ms`.
  Result<void> Check(std::string_view account, std::string_view address, std::int64_t now_ms);
  void RecordFailure(std::string_view account, std::string_view address, std::int64_t now_ms);
  // Clears the account's failures (not the address's: one right guess must not reset a spray).
  void RecordSuccess(std::string_view account);

 private:
  using Failures = std::deque<std::int64_t>;  // times in ms, oldest first
  // Milliseconds until `failures` drops below `limit`, 0 when it already is. Drops expired times.
  std::int64_t WaitMs(Failures& failures, int limit, std::int64_t now_ms) const;
  void PruneIfLarge(std::int64_t now_ms);  // REQUIRES: mu_ held

  const LoginLimits limits_;
  std::mutex mu_;
  std::unordered_map<std::string, Failures> by_account_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, Failures> by_address_;  // GUARDED_BY(mu_)
};

// "45 s", "4 min 10 s", "1 h 2 min": how long a wait of `ms` is, rounded up to the second.
std::string DescribeWait(std::int64_t ms);

}  // namespace pneumo::auth
