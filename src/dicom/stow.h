// STOW-RS (PS3.18 10.5) without an HTTP library: parse a multipart/related body of
// application/dicom parts (multipart_related.h), run each instance through the DicomNode like a
// C-STORE, and build the standard DICOM JSON answer.
//
//   StowResponse r = Stow(request.get_header_value("Content-Type"), request.body, node);
//   response.status = r.http_status;          // 200 all stored, 202 some failed, 409 all failed,
//   response.set_content(r.body, "application/dicom+json");   // 400 / 415 for a bad request
//
// The body lists every instance: ReferencedSOPSequence (0008,1199) for those accepted (predicted or
// acknowledged as not eligible, like C-STORE), FailedSOPSequence (0008,1198) with FailureReason
// (0008,1197) for the others (0xC000 unreadable, 0xA700 busy, 0x0110 processing failure).
// Thread-safe: pure apart from the node, which is thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "dicom/dicom_node.h"
#include "dicom/multipart_related.h"

namespace pneumo::dicom {

struct StowResponse {
  int http_status = 200;
  std::string content_type = "application/dicom+json";
  std::string body;  // DICOM JSON, or {"error": "..."} for 400/415
};

StowResponse Stow(std::string_view content_type, std::span<const std::uint8_t> body,
                  DicomNode& node);

}  // namespace pneumo::dicom
