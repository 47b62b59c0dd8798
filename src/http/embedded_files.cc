#include "http/embedded_files.h"

#include <array>
#include <utility>

namespace pneumo::http {

std::optional<EmbeddedFile> FindEmbeddedFile(std::span<const EmbeddedFile> files,
                                             std::string_view name) {
  for (const auto& file : files) {
    if (file.name == name) return file;
  }
  return std::nullopt;
}

std::string_view ContentTypeFor(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (name.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

}  // namespace pneumo::http
