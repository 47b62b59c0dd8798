// The one mapping from an Error to what the HTTP API answers: status, error code, Retry-After.
//
//   HttpError e = ToHttpError(Error{ErrorCode::kBusy, "queue full"});
//   // e.status == 503, e.code == "busy", e.retry_after_seconds == 1
//
// docs/http-api.md's error table is this function in words; error_response_test checks that each
// ErrorCode lands where the table says. The original Flask API's routes reword some of them
// (CompatError) but keep the status.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace pneumo::http {

struct HttpError {
  int status = 500;
  std::string code;  // the API's error code, e.g. "store_unavailable"
  std::string message;
  int retry_after_seconds = 0;  // 0: no Retry-After header
};

// In the server, kUnavailable and kIoError can only come from the result store (nothing else it
// calls does I/O on a request's behalf), hence "store_unavailable".
HttpError ToHttpError(const Error& error);

// Refusals the HTTP layer makes itself, before any module is called (its codes are not
// ErrorCodes: they name what was wrong with the request).
HttpError RequestError(int status, std::string code, std::string message);

// The original API's words for what it refused itself ({"error": "No file uploaded"}, "Invalid
// file type: ..."); other failures keep their message and status.
HttpError CompatError(HttpError error);

}  // namespace pneumo::http
