// The image of a prediction request, read from httplib's streaming reader: a multipart field
// `file` or (where the route allows) a raw image body, within a size limit that holds for chunked
// bodies too (they announce no length; httplib's own limit only checks Content-Length).
//
//   server.Post("/api/v1/predictions", [](const Request& req, Response& res,
//                                         const httplib::ContentReader& reader) {
//     auto upload = ReadUpload(req, res, reader, max_upload_bytes, /*raw_allowed=*/true);
//     if (!upload) return Send(upload.error());      // 400, 413 or 415
//     Predict(upload->bytes, upload->filename);
//   });
//
// Its own file so that fuzz/form_data_fuzzer.cc runs this code, not a copy (no torch here).
// Thread-safe: a function of its arguments.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <expected>
#include <string>

#include "http/error_response.h"

namespace pneumo::http {

struct Upload {
  std::string bytes;
  std::string filename;  // as sent; empty for a raw body without ?filename= or a part without one
  bool multipart = false;
};

// The upload's bytes and name. The whole body is read, within `limit`, before any answer, so that
// a keep-alive connection stays in step. The first multipart part named "file" is the upload;
// more than a few parts are refused. A raw body needs `raw_allowed` and a Content-Type of
// image/jpeg, image/png or application/dicom; its name comes from ?filename=. An HttpError when
// the request carries no usable upload: 413 payload_too_large (over `limit`, or httplib already
// answered 413 in `res`), 400 empty_body, bad_request or missing_file, 415
// unsupported_media_type.
std::expected<Upload, HttpError> ReadUpload(const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader, std::size_t limit,
                                            bool raw_allowed);

}  // namespace pneumo::http
