#include "image/dicom_lengths.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dctag.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>

namespace pneumo::image {
namespace {

constexpr std::uint32_t kUndefined = 0xFFFFFFFF;
constexpr int kMaxDepth = 64;

// How a walk over elements or items ended: at its end, or at the delimiter that closed it.
enum class Walk { kDone, kDelimiter };

// The VRs with a 2-byte reserved field and a 4-byte length in explicit syntaxes (PS3.5 7.1.2).
bool LongLength(std::string_view vr) {
  for (std::string_view v :
       {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}) {
    if (vr == v) return true;
  }
  return false;
}

// Walks a dataset in one byte order, checking each defined length against its container's end.
class LengthWalker {
 public:
  LengthWalker(std::span<const std::uint8_t> bytes, bool big_endian)
      : bytes_(bytes), big_(big_endian) {}

  // Elements from `pos` up to `end` or to an item delimiter (then kDelimiter, `pos` past it).
  Result<Walk> Dataset(std::size_t& pos, std::size_t end, bool explicit_vr, int depth) {
    if (depth > kMaxDepth) return Bad("sequences are nested more than 64 deep");
    while (pos < end) {
      if (end - pos < 8) return Walk::kDone;  // a few stray bytes: nothing large to allocate
      const std::uint16_t group = U16(pos), element = U16(pos + 2);
      if (group == 0xFFFE) {
        if (element == 0xE00D) {  // item delimitation
          pos += 8;
          return Walk::kDelimiter;
        }
        return Bad("an item or sequence delimiter where an element belongs");
      }
      std::uint32_t length = 0;
      std::string_view vr;
      if (explicit_vr) {
        vr = {reinterpret_cast<const char*>(bytes_.data() + pos + 4), 2};
        if (vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z')
          return Bad("an element without a value representation in an explicit VR dataset");
        if (LongLength(vr)) {
          if (end - pos < 12) return Walk::kDone;
          length = U32(pos + 8);
          pos += 12;
        } else {
          length = U16(pos + 6);
          pos += 8;
        }
      } else {
        length = U32(pos + 4);
        pos += 8;
      }
      const bool pixel_data = group == 0x7FE0 && element == 0x0010;
      // UN of undefined length holds an implicit VR little endian sequence (PS3.5 6.2.2).
      const bool inner_explicit = explicit_vr && vr != "UN";
      if (length == kUndefined) {
        auto walked = Items(pos, end, inner_explicit, depth + 1, /*fragments=*/pixel_data);
        if (!walked) return walked;
        continue;
      }
      if (length > end - pos) return TooLong(group, element, length, end - pos);
      const bool sequence =
          explicit_vr ? vr == "SQ" : DcmTag(group, element).getEVR() == EVR_SQ && !pixel_data;
      if (sequence) {
        std::size_t inner = pos;
        auto walked = Items(inner, pos + length, explicit_vr, depth + 1, /*fragments=*/false);
        if (!walked) return walked;
      }
      pos += length;
    }
    return Walk::kDone;
  }

 private:
  // The items of a sequence (datasets) or of encapsulated pixel data (fragments: raw bytes), to
  // `end` or to the sequence delimiter.
  Result<Walk> Items(std::size_t& pos, std::size_t end, bool explicit_vr, int depth,
                     bool fragments) {
    if (depth > kMaxDepth) return Bad("sequences are nested more than 64 deep");
    while (pos < end) {
      if (end - pos < 8) return Walk::kDone;
      const std::uint16_t group = U16(pos), element = U16(pos + 2);
      const std::uint32_t length = U32(pos + 4);
      pos += 8;
      if (group != 0xFFFE || (element != 0xE000 && element != 0xE0DD))
        return Bad("a sequence holds something other than items");
      if (element == 0xE0DD) return Walk::kDelimiter;  // sequence delimitation
      if (length == kUndefined) {
        if (fragments) return Bad("a pixel data fragment of undefined length");
        auto walked = Dataset(pos, end, explicit_vr, depth + 1);
        if (!walked) return walked;
        continue;
      }
      if (length > end - pos) return TooLong(0xFFFE, 0xE000, length, end - pos);
      if (!fragments) {
        std::size_t inner = pos;
        auto walked = Dataset(inner, pos + length, explicit_vr, depth + 1);
        if (!walked) return walked;
      }
      pos += length;
    }
    return Walk::kDone;
  }

  std::uint16_t U16(std::size_t at) const {
    const std::uint16_t a = bytes_[at], b = bytes_[at + 1];
    return static_cast<std::uint16_t>(big_ ? (a << 8) | b : (b << 8) | a);
  }
  std::uint32_t U32(std::size_t at) const {
    const std::uint32_t a = bytes_[at], b = bytes_[at + 1], c = bytes_[at + 2], d = bytes_[at + 3];
    return big_ ? (a << 24) | (b << 16) | (c << 8) | d : (d << 24) | (c << 16) | (b << 8) | a;
  }

  static std::unexpected<Error> Bad(const std::string& why) {
    return std::unexpected(Error{ErrorCode::kCorruptInput, "DICOM file refused: " + why});
  }
  static std::unexpected<Error> TooLong(std::uint16_t group, std::uint16_t element,
                                        std::uint32_t length, std::size_t left) {
    char tag[16];
    std::snprintf(tag, sizeof tag, "(%04X,%04X)", group, element);
    return Bad(std::string("element ") + tag + " declares " + std::to_string(length) +
               " bytes but only " + std::to_string(left) + " follow (truncated or damaged)");
  }

  std::span<const std::uint8_t> bytes_;
  bool big_;
};

}  // namespace

Result<void> CheckDicomLengths(std::span<const std::uint8_t> bytes) {
  constexpr std::size_t kMeta = 132;  // 128-byte preamble, "DICM"
  if (bytes.size() < kMeta ||
      std::string_view(reinterpret_cast<const char*>(bytes.data()) + 128, 4) != "DICM") {
    return Fail(ErrorCode::kCorruptInput,
                "not a DICOM Part 10 file: no 'DICM' after the 128-byte preamble");
  }
  // The file meta group: explicit VR little endian, group 0002 only.
  std::size_t pos = kMeta;
  std::string syntax;
  while (bytes.size() - pos >= 8 && bytes[pos] == 0x02 && bytes[pos + 1] == 0x00) {
    const bool is_syntax = bytes[pos + 2] == 0x10 && bytes[pos + 3] == 0x00;
    const std::string_view vr(reinterpret_cast<const char*>(bytes.data()) + pos + 4, 2);
    std::size_t header = 8;
    std::uint32_t length = bytes[pos + 6] | (bytes[pos + 7] << 8);
    if (LongLength(vr)) {
      if (bytes.size() - pos < 12) break;
      header = 12;
      length = static_cast<std::uint32_t>(bytes[pos + 8]) | (bytes[pos + 9] << 8) |
               (bytes[pos + 10] << 16) | (static_cast<std::uint32_t>(bytes[pos + 11]) << 24);
    }
    if (length > bytes.size() - pos - header) {
      return Fail(ErrorCode::kCorruptInput, "DICOM file refused: a file meta element declares " +
                                                std::to_string(length) + " bytes but only " +
                                                std::to_string(bytes.size() - pos - header) +
                                                " follow (truncated or damaged)");
    }
    if (is_syntax) {
      syntax.assign(reinterpret_cast<const char*>(bytes.data()) + pos + header, length);
      while (!syntax.empty() && (syntax.back() == '\0' || syntax.back() == ' ')) syntax.pop_back();
    }
    pos += header + length;
  }
  if (syntax == "1.2.840.10008.1.2.1.99") return {};  // deflated: the bytes are not elements
  const bool big_endian = syntax == "1.2.840.10008.1.2.2";
  bool explicit_vr = syntax != "1.2.840.10008.1.2";
  if (syntax.empty() && bytes.size() - pos >= 6) {
    // No transfer syntax named: DCMTK guesses from the first element, and so does this.
    explicit_vr = std::isupper(bytes[pos + 4]) && std::isupper(bytes[pos + 5]);
  }
  LengthWalker dataset(bytes, big_endian);
  auto walked = dataset.Dataset(pos, bytes.size(), explicit_vr, 0);
  if (!walked) return std::unexpected(walked.error());
  return {};
}

}  // namespace pneumo::image
