// Files compiled into the binary at build time (cmake/embed_files.cmake): the web UI (web/) and
// the OpenAPI description, so a copied `pneumo` binary serves everything by itself.
//
//   if (auto file = FindEmbeddedFile(WebFiles(), "static/app.js")) Send(file->content);
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace pneumo::http {

struct EmbeddedFile {
  std::string_view name;  // path relative to the embedded folder, e.g. "index.html", "js/api.js"
  std::string_view content;
};

std::span<const EmbeddedFile> WebFiles();  // web/**
std::span<const EmbeddedFile> ApiFiles();  // src/http/openapi.json

std::optional<EmbeddedFile> FindEmbeddedFile(std::span<const EmbeddedFile> files,
                                             std::string_view name);

// Content-Type for a file name by its extension; application/octet-stream when unknown.
std::string_view ContentTypeFor(std::string_view name);

}  // namespace pneumo::http
