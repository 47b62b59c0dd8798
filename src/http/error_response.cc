#include "http/error_response.h"

#include <utility>

namespace pneumo::http {

HttpError ToHttpError(const Error& error) {
  const std::string& message = error.message;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return {400, "invalid_argument", message};
    case ErrorCode::kEmptyInput:
      return {400, "empty_body", message};
    case ErrorCode::kUnsupportedFormat:
      return {415, "unsupported_format", message};
    case ErrorCode::kCorruptInput:
    case ErrorCode::kInvalidDimensions:
      return {422, "invalid_image", message};
    case ErrorCode::kImageTooLarge:
      return {413, "image_too_large", message};
    case ErrorCode::kNotFound:
      return {404, "not_found", message};
    case ErrorCode::kUnavailable:
    case ErrorCode::kIoError: {
      constexpr std::string_view kPrefix = "the result store is unavailable";
      return {503, "store_unavailable",
              message.starts_with(kPrefix) ? message : std::string(kPrefix) + ": " + message, 5};
    }
    case ErrorCode::kBusy:
      return {503, "busy", message, 1};
    case ErrorCode::kTimeout:
      return {503, "timeout", message, 1};
    case ErrorCode::kUnauthenticated:
      return {401, "unauthenticated", message};
    case ErrorCode::kPermissionDenied:
      return {403, "forbidden", message};
    case ErrorCode::kRateLimited:
      return {429, "rate_limited", message, 60};
    case ErrorCode::kModelError:
    case ErrorCode::kInternal:
      return {500, "internal", message};
  }
  return {500, "internal", message};
}

HttpError RequestError(int status, std::string code, std::string message) {
  return {status, std::move(code), std::move(message)};
}

HttpError CompatError(HttpError error) {
  if (error.code == "empty_body" || error.code == "missing_file" ||
      error.code == "unsupported_media_type") {
    return {400, error.code, "No file uploaded"};
  }
  if (error.code == "unsupported_format") {
    return {400, error.code, "Invalid file type: " + error.message};
  }
  return error;
}

}  // namespace pneumo::http
