// A STOW-RS request as the route receives it: the first line of the input is the Content-Type
// header, the rest the body, through dicom::ParseMultipartRelated. Checks: every part's body lies
// inside the request body; the parts, written again as multipart/related with a boundary none of
// them contains, parse back to the same parts (content types and bytes).
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dicom/multipart_related.h"
#include "fuzz_check.h"

namespace {

bool Contains(std::span<const std::uint8_t> haystack, std::string_view needle) {
  const std::string_view text(reinterpret_cast<const char*>(haystack.data()), haystack.size());
  return text.find(needle) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using pneumo::dicom::MultipartPart;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string content_type(input.substr(0, eol));
  const std::span<const std::uint8_t> body(data + eol + 1, size - eol - 1);
  auto parts = pneumo::dicom::ParseMultipartRelated(content_type, body);
  if (!parts) return 0;
  FUZZ_CHECK(!parts->empty(), "a body was accepted with no parts");
  const std::string boundary = "fuzz-boundary-7f3c9a";
  for (const MultipartPart& part : *parts) {
    FUZZ_CHECK(
        part.body.empty() || (part.body.data() >= body.data() &&
                              part.body.data() + part.body.size() <= body.data() + body.size()),
        "a part's body points outside the request body");
    if (Contains(part.body, boundary) ||
        part.content_type.find_first_of("\r\n") != std::string::npos)
      return 0;
  }
  std::string again;
  for (const MultipartPart& part : *parts) {
    again += "--" + boundary + "\r\n";
    if (!part.content_type.empty()) again += "Content-Type: " + part.content_type + "\r\n";
    again += "\r\n";
    again.append(reinterpret_cast<const char*>(part.body.data()), part.body.size());
    again += "\r\n";
  }
  again += "--" + boundary + "--\r\n";
  const std::span<const std::uint8_t> again_bytes(
      reinterpret_cast<const std::uint8_t*>(again.data()), again.size());
  auto reparsed = pneumo::dicom::ParseMultipartRelated(
      "multipart/related; type=\"application/dicom\"; boundary=" + boundary, again_bytes);
  FUZZ_CHECK(reparsed.has_value(), "the parts written again do not parse");
  FUZZ_CHECK(reparsed->size() == parts->size(), "the parts written again parse to another count");
  for (std::size_t i = 0; i < parts->size(); ++i) {
    const MultipartPart &a = (*parts)[i], &b = (*reparsed)[i];
    FUZZ_CHECK(a.content_type == b.content_type, "a part's content type changed");
    FUZZ_CHECK(std::ranges::equal(a.body, b.body), "a part's bytes changed");
  }
  return 0;
}
