#include "http/json_body.h"

#include <string>

namespace pneumo::http {

int JsonNestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::expected<nlohmann::json, HttpError> ParseJsonObject(std::string_view body) {
  if (body.size() > kMaxJsonBodyBytes) {
    return std::unexpected(
        RequestError(413, "payload_too_large",
                     "a JSON body is at most " + std::to_string(kMaxJsonBodyBytes) + " bytes"));
  }
  // Checked before parsing: the parser and the value it builds would nest as deep as the text.
  if (JsonNestingDepth(body) > kMaxJsonDepth) {
    return std::unexpected(RequestError(
        400, "bad_request", "the JSON body nests deeper than " + std::to_string(kMaxJsonDepth)));
  }
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return std::unexpected(RequestError(400, "bad_request", "the body must be a JSON object"));
  }
  return parsed;
}

}  // namespace pneumo::http
