#include "dicom/multipart_related.h"

#include <algorithm>
#include <cctype>

namespace pneumo::dicom {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The value of parameter `name` in a header like `multipart/related; type="a/b"; boundary=x`.
std::string Parameter(std::string_view header, std::string_view name) {
  std::size_t pos = header.find(';');
  while (pos != std::string_view::npos) {
    const std::size_t next = header.find(';', pos + 1);
    std::string_view param = Trim(header.substr(
        pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && Lower(Trim(param.substr(0, eq))) == name) {
      std::string_view value = Trim(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
    pos = next;
  }
  return "";
}

}  // namespace

Result<std::vector<MultipartPart>> ParseMultipartRelated(std::string_view content_type,
                                                         std::span<const std::uint8_t> body) {
  if (!Lower(Trim(content_type)).starts_with("multipart/related")) {
    return Fail(ErrorCode::kInvalidArgument,
                "STOW-RS needs Content-Type multipart/related; type=\"application/dicom\"");
  }
  const std::string type = Lower(Parameter(content_type, "type"));
  if (!type.empty() && type != "application/dicom") {
    return Fail(ErrorCode::kUnsupportedFormat,
                "STOW-RS parts of type '" + type + "' are not supported; send application/dicom");
  }
  const std::string boundary = Parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200)
    return Fail(ErrorCode::kInvalidArgument, "multipart/related body without a boundary parameter");
  const std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  const std::string delimiter = "--" + boundary;
  // The first delimiter may open the body or follow a preamble line.
  std::size_t pos = text.starts_with(delimiter) ? 0 : text.find("\r\n" + delimiter);
  if (pos == std::string_view::npos)
    return Fail(ErrorCode::kInvalidArgument, "multipart body does not contain its boundary");
  if (pos != 0) pos += 2;
  std::vector<MultipartPart> parts;
  while (true) {
    pos += delimiter.size();
    if (text.substr(pos, 2) == "--") break;  // the closing delimiter
    // Transport padding after the delimiter, then CRLF.
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (text.substr(pos, 2) != "\r\n")
      return Fail(ErrorCode::kInvalidArgument, "multipart delimiter not followed by CRLF");
    pos += 2;
    const std::size_t headers_end = text.find("\r\n\r\n", pos);
    // A part may have no headers at all: then the body starts right after the delimiter's CRLF.
    const bool no_headers = text.substr(pos, 2) == "\r\n";
    if (!no_headers && headers_end == std::string_view::npos)
      return Fail(ErrorCode::kInvalidArgument, "multipart part without the end of its headers");
    MultipartPart part;
    const std::size_t body_start = no_headers ? pos + 2 : headers_end + 4;
    if (!no_headers) {
      std::string_view headers = text.substr(pos, headers_end - pos);
      while (!headers.empty()) {
        const auto eol = headers.find("\r\n");
        const std::string_view line = headers.substr(0, eol);
        if (const auto colon = line.find(':');
            colon != std::string_view::npos &&
            Lower(Trim(line.substr(0, colon))) == "content-type") {
          part.content_type = Lower(Trim(line.substr(colon + 1)));
          if (const auto semi = part.content_type.find(';'); semi != std::string::npos)
            part.content_type = std::string(Trim(part.content_type.substr(0, semi)));
        }
        if (eol == std::string_view::npos) break;
        headers.remove_prefix(eol + 2);
      }
    }
    const std::size_t end = text.find("\r\n" + delimiter, body_start);
    if (end == std::string_view::npos)
      return Fail(ErrorCode::kInvalidArgument, "multipart body ends without its closing boundary");
    part.body = body.subspan(body_start, end - body_start);
    parts.push_back(part);
    pos = end + 2;
  }
  if (parts.empty()) return Fail(ErrorCode::kInvalidArgument, "multipart body has no parts");
  return parts;
}

}  // namespace pneumo::dicom
