// Base64 (RFC 4648, standard alphabet, padded, no line breaks), over OpenSSL's EVP_EncodeBlock
// and EVP_DecodeBlock.
//
//   std::string text = pneumo::Base64Encode(bytes);        // "iVBORw0KGgo..."
//   Result<std::string> back = pneumo::Base64Decode(text);  // kInvalidArgument when not base64
//
// Thread-safe: free functions with no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pneumo {

std::string Base64Encode(std::span<const std::uint8_t> bytes);
std::string Base64Encode(std::string_view bytes);

// The bytes `text` encodes. Whitespace and line breaks are not accepted, nor a length that is not
// a multiple of 4 (padding is required): kInvalidArgument.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace pneumo
