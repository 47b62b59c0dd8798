// Prediction ids: 26-character, time-ordered, URL-safe (ULID layout: 48-bit Unix milliseconds, then
// 80 random bits, in Crockford base 32). Ids made in the same millisecond by different servers
// sharing one store cannot collide in practice, and sorting ids sorts them by time.
//
//   std::string id = NewPredictionId(NowUnixMs());   // "01JD3F0Q5C2B6W9Y8K7T4R1M0N"
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pneumo::serving {

std::string NewPredictionId(std::int64_t unix_ms);

// True for strings NewPredictionId could have made (length 26, Crockford alphabet). Routes use it
// to answer 404 without asking the store about ids that cannot exist.
bool IsPredictionId(std::string_view text);

std::int64_t NowUnixMs();
// "2026-11-26T15:02:11.532Z"
std::string IsoUtc(std::int64_t unix_ms);

}  // namespace pneumo::serving
