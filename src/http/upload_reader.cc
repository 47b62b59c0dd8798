#include "http/upload_reader.h"

#include <algorithm>
#include <cctype>

namespace pneumo::http {

std::expected<Upload, HttpError> ReadUpload(const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader, std::size_t limit,
                                            bool raw_allowed) {
  std::size_t received = 0;
  bool too_large = false;
  auto within_limit = [&](std::size_t n) {
    received += n;
    too_large = received > limit;
    return !too_large;
  };
  Upload upload;
  bool multipart_file = false;  // a part named "file" was seen
  bool read = false;
  // An upload needs one part; a few more (a browser's other form fields) are harmless. Thousands
  // of tiny parts would only cost the server work.
  constexpr int kMaxParts = 16;
  int parts = 0;
  if (req.is_multipart_form_data()) {
    bool in_file = false;
    read = reader(
        [&](const httplib::MultipartFormData& part) {
          if (++parts > kMaxParts) return false;
          in_file = part.name == "file" && !multipart_file;  // the first "file" part counts
          if (in_file) {
            multipart_file = true;
            upload.filename = part.filename;
          }
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (!within_limit(n)) return false;
          if (in_file) upload.bytes.append(data, n);
          return true;
        });
  } else {
    read = reader([&](const char* data, std::size_t n) {
      if (!within_limit(n)) return false;
      upload.bytes.append(data, n);
      return true;
    });
  }
  if (too_large || res.status == 413) {
    return std::unexpected(
        RequestError(413, "payload_too_large",
                     "the upload is larger than the limit of " + std::to_string(limit) + " bytes"));
  }
  if (parts > kMaxParts) {
    return std::unexpected(RequestError(400, "bad_request",
                                        "the multipart body has more than " +
                                            std::to_string(kMaxParts) +
                                            " parts; send one: 'file'"));
  }
  const std::string no_body = "the request has no body; send the image as multipart field 'file'";
  if (!read && received == 0) return std::unexpected(RequestError(400, "empty_body", no_body));
  if (!read) {
    return std::unexpected(
        RequestError(400, "bad_request",
                     "the request body could not be read (malformed multipart or chunked body)"));
  }
  if (req.is_multipart_form_data()) {
    if (!multipart_file) {
      return std::unexpected(
          RequestError(400, "missing_file",
                       "the multipart form has no field named 'file'; put the image there"));
    }
    upload.multipart = true;
    return upload;
  }
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (type.empty() && upload.bytes.empty())
    return std::unexpected(RequestError(400, "empty_body", no_body));
  if (!raw_allowed) {
    return std::unexpected(RequestError(
        400, "missing_file", "this route takes a multipart form with the image in field 'file'"));
  }
  if (type != "image/jpeg" && type != "image/png" && type != "application/dicom") {
    return std::unexpected(RequestError(
        415, "unsupported_media_type",
        (type.empty() ? std::string("the request has no Content-Type")
                      : "Content-Type '" + type + "' is not accepted") +
            "; send multipart/form-data with the image in field 'file', or the image itself as "
            "image/jpeg, image/png or application/dicom"));
  }
  upload.filename = req.has_param("filename") ? req.get_param_value("filename") : "";
  return upload;
}

}  // namespace pneumo::http
