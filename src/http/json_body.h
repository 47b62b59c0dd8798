// The JSON object of a request body (the account routes' {"user": ..., "password": ...}), within
// limits that keep a hostile body cheap: at most kMaxJsonBodyBytes, nested at most
// kMaxJsonDepth deep, and an object at the top.
//
//   auto body = ParseJsonObject(req.body);
//   if (!body) return Send(ex, body.error());   // 413 payload_too_large or 400 bad_request
//   std::string user = body->value("user", "");
//
// Pure, thread-safe.
#pragma once

#include <cstddef>
#include <expected>
#include <nlohmann/json.hpp>
#include <string_view>

#include "http/error_response.h"

namespace pneumo::http {

inline constexpr std::size_t kMaxJsonBodyBytes = std::size_t{64} * 1024;
inline constexpr int kMaxJsonDepth = 16;

// How deep arrays and objects nest in `text` (brackets inside strings do not count); an
// unbalanced text still gets the deepest level it reached.
int JsonNestingDepth(std::string_view text);

// 413 payload_too_large above kMaxJsonBodyBytes; 400 bad_request when nested deeper than
// kMaxJsonDepth, not JSON, or not an object.
std::expected<nlohmann::json, HttpError> ParseJsonObject(std::string_view body);

}  // namespace pneumo::http
