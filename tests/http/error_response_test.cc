#include "http/error_response.h"

#include <gtest/gtest.h>

namespace pneumo::http {
namespace {

struct Row {
  ErrorCode code;
  int status;
  const char* api_code;
  int retry_after;
};

// docs/http-api.md's error table, for the errors that modules return.
TEST(ToHttpError, MapsEveryErrorCodeAsTheApiDocumentSays) {
  const Row rows[] = {
      {ErrorCode::kInvalidArgument, 400, "invalid_argument", 0},
      {ErrorCode::kEmptyInput, 400, "empty_body", 0},
      {ErrorCode::kUnsupportedFormat, 415, "unsupported_format", 0},
      {ErrorCode::kCorruptInput, 422, "invalid_image", 0},
      {ErrorCode::kInvalidDimensions, 422, "invalid_image", 0},
      {ErrorCode::kImageTooLarge, 413, "image_too_large", 0},
      {ErrorCode::kNotFound, 404, "not_found", 0},
      {ErrorCode::kIoError, 503, "store_unavailable", 5},
      {ErrorCode::kUnavailable, 503, "store_unavailable", 5},
      {ErrorCode::kBusy, 503, "busy", 1},
      {ErrorCode::kTimeout, 503, "timeout", 1},
      {ErrorCode::kUnauthenticated, 401, "unauthenticated", 0},
      {ErrorCode::kPermissionDenied, 403, "forbidden", 0},
      {ErrorCode::kRateLimited, 429, "rate_limited", 60},
      {ErrorCode::kModelError, 500, "internal", 0},
      {ErrorCode::kInternal, 500, "internal", 0},
  };
  EXPECT_EQ(std::size(rows), static_cast<std::size_t>(ErrorCode::kInternal) + 1)
      << "a new ErrorCode needs a row here and in docs/http-api.md";
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(ErrorCodeName(row.code)));
    const HttpError e = ToHttpError(Error{row.code, "what went wrong"});
    EXPECT_EQ(e.status, row.status);
    EXPECT_EQ(e.code, row.api_code);
    if (e.code == "store_unavailable") {
      EXPECT_EQ(e.message, "the result store is unavailable: what went wrong");
    } else {
      EXPECT_EQ(e.message, "what went wrong");
    }
    EXPECT_EQ(e.retry_after_seconds, row.retry_after);
  }
}

TEST(CompatError, UsesTheOriginalApisWordsForWhatItRefusedItself) {
  EXPECT_EQ(CompatError(RequestError(400, "missing_file", "no field")).message, "No file uploaded");
  EXPECT_EQ(CompatError(RequestError(415, "unsupported_media_type", "x")).status, 400);
  const HttpError format = CompatError(ToHttpError(Error{ErrorCode::kUnsupportedFormat, "a GIF"}));
  EXPECT_EQ(format.status, 400);
  EXPECT_EQ(format.message, "Invalid file type: a GIF");
  const HttpError busy = CompatError(ToHttpError(Error{ErrorCode::kBusy, "queue full"}));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.message, "queue full");
  EXPECT_EQ(busy.retry_after_seconds, 1);
}

}  // namespace
}  // namespace pneumo::http
