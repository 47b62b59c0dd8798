#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <system_error>

#include "core/file_bytes.h"
#include "core/sha256.h"
#include "data/patient_id.h"
#include "image/decode.h"

namespace pneumo::data {
namespace fs = std::filesystem;

std::string_view LabelName(int label) { return label == kPneumonia ? "PNEUMONIA" : "NORMAL"; }

bool HasImageExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpeg" || ext == ".jpg" || ext == ".png" || ext == ".dcm" || ext == ".dicom";
}

namespace {

bool HasClassFolders(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir / "NORMAL", ec) || fs::is_directory(dir / "PNEUMONIA", ec);
}

}  // namespace

Result<std::vector<LabeledImage>> ScanImageFolder(const fs::path& dir, std::string_view split) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Fail(ErrorCode::kNotFound, "not a directory: " + dir.string());
  fs::path root = dir;
  if (!HasClassFolders(root)) {
    if (!split.empty() && HasClassFolders(dir / split)) {
      root = dir / split;
    } else {
      return Fail(ErrorCode::kNotFound, dir.string() +
                                            " has neither NORMAL/ and PNEUMONIA/ folders nor a " +
                                            std::string(split) + "/ folder holding them");
    }
  }
  std::vector<LabeledImage> images;
  for (int label : {kNormal, kPneumonia}) {
    const fs::path class_dir = root / LabelName(label);
    if (!fs::is_directory(class_dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(class_dir, ec)) {
      if (!entry.is_regular_file() || !HasImageExtension(entry.path())) continue;
      images.push_back(
          {entry.path(), label, PatientIdFromFilename(entry.path().filename().string())});
    }
    if (ec)
      return Fail(ErrorCode::kIoError, "cannot list " + class_dir.string() + ": " + ec.message());
  }
  if (images.empty()) return Fail(ErrorCode::kNotFound, "no images under " + root.string());
  std::sort(images.begin(), images.end(),
            [](const LabeledImage& a, const LabeledImage& b) { return a.path < b.path; });
  return images;
}

Result<std::string> FingerprintImages(const std::vector<LabeledImage>& images) {
  Sha256 digest;
  for (const auto& image : images) {
    auto bytes = ReadFileBytes(image.path, std::numeric_limits<std::size_t>::max());
    if (!bytes) return std::unexpected(bytes.error());
    digest.Update(image.path.filename().string() + ":" + std::string(LabelName(image.label)) + ":" +
                  Sha256Hex(*bytes) + "\n");
  }
  return digest.FinishHex();
}

}  // namespace pneumo::data
