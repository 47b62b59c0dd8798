// The multipart/related body of a STOW-RS request (PS3.18 10.5, RFC 2387), split into its parts.
// Apart from stow.h so that it builds and is fuzzed (fuzz/stow_multipart_fuzzer.cc) without the
// DICOM node and what it pulls in.
//
//   auto parts = ParseMultipartRelated(req.get_header_value("Content-Type"), body);
//   if (parts) for (const MultipartPart& p : *parts) use(p.content_type, p.body);
//
// Thread-safe: a pure function.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pneumo::dicom {

struct MultipartPart {
  std::string content_type;            // of the part; "" when the part has no Content-Type header
  std::span<const std::uint8_t> body;  // points into the request body
};

// kInvalidArgument: not multipart/related, no boundary, no parts, a part without a header end, or
// a body that does not end with the closing delimiter. kUnsupportedFormat: a `type` parameter
// other than application/dicom.
Result<std::vector<MultipartPart>> ParseMultipartRelated(std::string_view content_type,
                                                         std::span<const std::uint8_t> body);

}  // namespace pneumo::dicom
