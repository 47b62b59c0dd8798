#include "dicom/eligibility.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace pneumo::dicom {
namespace {

std::string Upper(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

template <std::size_t N>
bool OneOf(const std::string& value, const std::array<std::string_view, N>& allowed) {
  return std::ranges::find(allowed, value) != allowed.end();
}

// A header value is echoed into the log: keep it short and printable.
std::string Quoted(const std::string& value) {
  std::string clean;
  for (char c : value.substr(0, 32)) clean += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return "'" + clean + "'";
}

}  // namespace

Eligibility CheckEligibility(const image::DicomAttributes& a) {
  constexpr std::array<std::string_view, 3> kModalities = {"CR", "DX", "DR"};
  constexpr std::array<std::string_view, 2> kFrontal = {"PA", "AP"};
  constexpr std::array<std::string_view, 6> kPhotometric = {
      "MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422"};
  const std::string modality = Upper(a.modality);
  if (modality.empty()) return {false, "no Modality in the header"};
  if (!OneOf(modality, kModalities)) {
    return {false, "modality " + Quoted(a.modality) + " is not a radiograph (CR, DX or DR)"};
  }
  if (!a.body_part_examined.empty() && Upper(a.body_part_examined) != "CHEST") {
    return {false, "body part " + Quoted(a.body_part_examined) + " is not CHEST"};
  }
  if (!a.view_position.empty() && !OneOf(Upper(a.view_position), kFrontal)) {
    return {false, "view position " + Quoted(a.view_position) + " is not frontal (PA or AP)"};
  }
  if (!a.has_pixel_data) return {false, "no pixel data (not an image)"};
  if (!OneOf(Upper(a.photometric_interpretation), kPhotometric)) {
    return {false, "photometric interpretation " + Quoted(a.photometric_interpretation) +
                       " is not one pneumo decodes (MONOCHROME1/2, RGB, PALETTE COLOR, YBR_FULL)"};
  }
  return {true, ""};
}

}  // namespace pneumo::dicom
