// Errors are values between modules.
//
//   Result<Image> img = DecodeImage(bytes);
//   if (!img) return std::unexpected(img.error());   // or: log img.error().message
//   Use(*img);
//
// Every library exception (LibTorch, OpenCV, DCMTK, SQLite...) is caught where that library is
// called and turned into an Error whose message names the problem in words a user can act on.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace pneumo {

enum class ErrorCode {
  kInvalidArgument,    // caller passed something malformed (flag, parameter, option)
  kEmptyInput,         // zero-byte file or body
  kUnsupportedFormat,  // bytes are not a format we decode (not an image, unknown DICOM syntax)
  kCorruptInput,       // recognised format but truncated or damaged
  kImageTooLarge,      // dimensions over the safety limits (checked before decoding)
  kInvalidDimensions,  // zero, negative or otherwise impossible dimensions
  kNotFound,           // file, directory, record or model missing
  kIoError,            // filesystem or network I/O failed
  kModelError,         // model file or model card unusable, inference failed
  kUnavailable,        // a dependency (the result store, a DICOM peer) is down; retrying may help
  kBusy,               // pneumo's own capacity is used up (the batch queue is full); retry shortly
  kTimeout,            // no answer within the deadline (the model, a peer)
  kUnauthenticated,    // no credentials, or wrong, expired, revoked or disabled ones
  kPermissionDenied,   // authenticated, but the role does not allow it
  kRateLimited,        // too many attempts (failed logins); the message says how long to wait
  kInternal,           // a bug: an invariant broke
};

// Stable lower_snake_case name used in JSON error bodies and logs.
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;  // for humans; names the problem and, where known, the fix

  std::string ToString() const;  // "<code name>: <message>"
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for the error side: `return Fail(ErrorCode::kNotFound, "no such file: " + path);`
inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace pneumo
