#include "http/request_id.h"

#include <algorithm>
#include <cstdint>
#include <random>

namespace pneumo::http {

bool IsSaneRequestId(std::string_view id) {
  constexpr std::size_t kMaxLength = 128;
  if (id.empty() || id.size() > kMaxLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::string RequestIdFor(std::string_view offered) {
  if (IsSaneRequestId(offered)) return std::string(offered);
  // Unique enough to find a request's lines, not a secret: a per-thread generator seeded once.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < id.size(); i += 16) {
    std::uint64_t bits = generator();
    for (std::size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xF];
  }
  return id;
}

}  // namespace pneumo::http
