#include "core/file_bytes.h"

#include <fstream>
#include <string>
#include <system_error>

namespace pneumo {

Result<std::vector<std::uint8_t>> ReadFileBytes(const std::filesystem::path& path,
                                                std::size_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return Fail(ErrorCode::kNotFound, "no such file: " + path.string());
  }
  if (!std::filesystem::is_regular_file(status)) {
    return Fail(ErrorCode::kIoError, "not a regular file: " + path.string());
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Fail(ErrorCode::kIoError, "cannot stat " + path.string() + ": " + ec.message());
  // Checked before reading so an oversized upload left on disk never gets into memory.
  if (size > max_bytes) {
    return Fail(ErrorCode::kImageTooLarge, path.string() + " is " + std::to_string(size) +
                                               " bytes; the limit is " + std::to_string(max_bytes) +
                                               " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIoError, "cannot open " + path.string());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  // A short read means the file shrank between stat and read; report it rather than decode a
  // zero-filled tail.
  if (in.gcount() != static_cast<std::streamsize>(bytes.size())) {
    return Fail(ErrorCode::kIoError, "could not read all of " + path.string());
  }
  return bytes;
}

}  // namespace pneumo
