// Reading a whole file into memory, with a size limit checked before any byte is read.
//
//   Result<std::vector<std::uint8_t>> bytes = ReadFileBytes("chest.dcm", 64u << 20);
//   if (!bytes) return std::unexpected(bytes.error());  // kNotFound, kIoError, kImageTooLarge
//
// Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace pneumo {

// kNotFound when absent, kIoError when not a regular file or unreadable (or it shrank while read),
// kImageTooLarge when larger than `max_bytes`.
Result<std::vector<std::uint8_t>> ReadFileBytes(const std::filesystem::path& path,
                                                std::size_t max_bytes);

}  // namespace pneumo
