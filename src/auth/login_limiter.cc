#include "auth/login_limiter.h"

namespace pneumo::auth {

std::string DescribeWait(std::int64_t ms) {
  std::int64_t s = (ms + 999) / 1000;
  if (s < 60) return std::to_string(s) + " s";
  const std::int64_t h = s / 3600, m = (s % 3600) / 60;
  s %= 60;
  if (h > 0) return std::to_string(h) + " h " + std::to_string(m) + " min";
  return std::to_string(m) + " min" + (s ? " " + std::to_string(s) + " s" : "");
}

std::int64_t LoginLimiter::WaitMs(Failures& failures, int limit, std::int64_t now_ms) const {
  const std::int64_t window = limits_.window.count();
  while (!failures.empty() && failures.front() <= now_ms - window) failures.pop_front();
  if (limit < 1 || static_cast<int>(failures.size()) < limit) return 0;
  // The (size - limit + 1)-th oldest failure must leave the window first.
  return failures[failures.size() - limit] + window - now_ms;
}

Result<void> LoginLimiter::Check(std::string_view account, std::string_view address,
                                 std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (auto it = by_account_.find(std::string(account)); it != by_account_.end()) {
    if (const std::int64_t wait = WaitMs(it->second, limits_.per_account, now_ms); wait > 0) {
      return Fail(ErrorCode::kRateLimited,
                  "too many failed logins for this account; try again in " + DescribeWait(wait));
    }
  }
  if (auto it = by_address_.find(std::string(address)); it != by_address_.end()) {
    if (const std::int64_t wait = WaitMs(it->second, limits_.per_address, now_ms); wait > 0) {
      return Fail(ErrorCode::kRateLimited,
                  "too many failed logins from this address; try again in " + DescribeWait(wait));
    }
  }
  return {};
}

void LoginLimiter::RecordFailure(std::string_view account, std::string_view address,
                                 std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  PruneIfLarge(now_ms);
  by_account_[std::string(account)].push_back(now_ms);
  by_address_[std::string(address)].push_back(now_ms);
}

void LoginLimiter::RecordSuccess(std::string_view account) {
  std::lock_guard lock(mu_);
  by_account_.erase(std::string(account));
}

void LoginLimiter::PruneIfLarge(std::int64_t now_ms) {
  // Guessed names and spoofed-looking addresses would otherwise grow the maps without bound.
  constexpr std::size_t kLarge = 10'000;
  for (auto* map : {&by_account_, &by_address_}) {
    if (map->size() < kLarge) continue;
    for (auto it = map->begin(); it != map->end();) {
      WaitMs(it->second, 1, now_ms);  // drops expired times
      it = it->second.empty() ? map->erase(it) : std::next(it);
    }
  }
}

}  // namespace pneumo::auth
