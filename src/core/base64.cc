#include "core/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace pneumo {
namespace {
// EVP_EncodeBlock and EVP_DecodeBlock take an int length: larger inputs go in pieces of whole
// 3-byte (encode) or 4-character (decode) groups.
constexpr std::size_t kEncodePiece = 3u << 28;
constexpr std::size_t kDecodePiece = 4u << 28;
constexpr auto kIntMax = static_cast<std::size_t>(std::numeric_limits<int>::max());
static_assert(kEncodePiece < kIntMax / 4 * 3);
static_assert(kDecodePiece < kIntMax);
}  // namespace

std::string Base64Encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.resize((bytes.size() + 2) / 3 * 4 + 1);  // EVP_EncodeBlock writes a terminating NUL
  std::size_t written = 0;
  for (std::size_t at = 0; at < bytes.size(); at += kEncodePiece) {
    const std::size_t n = std::min(kEncodePiece, bytes.size() - at);
    written += static_cast<std::size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written), bytes.data() + at,
                        static_cast<int>(n)));
  }
  out.resize(written);
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  return Base64Encode(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Fail(ErrorCode::kInvalidArgument, "base64 text of " + std::to_string(text.size()) +
                                                 " characters is not a multiple of 4");
  }
  // EVP_DecodeBlock skips leading and trailing whitespace and keeps the bytes that padding stands
  // for (as zeros); neither is base64 as RFC 4648 writes it.
  const auto bad = std::find_if(text.begin(), text.end(), [](char c) {
    return !(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=');
  });
  if (bad != text.end()) {
    return Fail(
        ErrorCode::kInvalidArgument,
        "not base64: character " + std::to_string(bad - text.begin()) + " is outside the alphabet");
  }
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  if (text.substr(0, text.size() - padding).find('=') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "not base64: '=' before the end");
  }
  std::string out(text.size() / 4 * 3, '\0');
  std::size_t written = 0;
  for (std::size_t at = 0; at < text.size(); at += kDecodePiece) {
    const std::size_t n = std::min(kDecodePiece, text.size() - at);
    const int got = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                                    reinterpret_cast<const unsigned char*>(text.data() + at),
                                    static_cast<int>(n));
    if (got < 0) return Fail(ErrorCode::kInvalidArgument, "not base64 (OpenSSL refused it)");
    written += static_cast<std::size_t>(got);
  }
  out.resize(written - padding);
  return out;
}

}  // namespace pneumo
