// Lists a labelled image folder in the Kermany layout.
//
//   auto images = ScanImageFolder("../shared/data/chest_xray", "train");
//   // accepts DIR/{NORMAL,PNEUMONIA}/* directly, or a parent DIR/{train,val,test}/{NORMAL,...}
//
// Thread-safe: reads the filesystem only.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pneumo::data {

inline constexpr int kNormal = 0;
inline constexpr int kPneumonia = 1;

// "NORMAL" or "PNEUMONIA".
std::string_view LabelName(int label);

struct LabeledImage {
  std::filesystem::path path;
  int label = kNormal;     // kNormal or kPneumonia
  std::string patient_id;  // from PatientIdFromFilename
};

// Image files (.jpeg .jpg .png .dcm .dicom, any case) sorted by path, so runs are reproducible.
// When `dir` has no NORMAL/PNEUMONIA folders but has a `split` subfolder, that subfolder is used.
// kNotFound when neither layout is there or no image is found.
Result<std::vector<LabeledImage>> ScanImageFolder(const std::filesystem::path& dir,
                                                  std::string_view split = "train");

// SHA-256 over every image's file name, label and content SHA-256, in the given order: identifies
// a training set in model cards. Fails with the reading error when a file cannot be read.
Result<std::string> FingerprintImages(const std::vector<LabeledImage>& images);

// True for the extensions above.
bool HasImageExtension(const std::filesystem::path& path);

}  // namespace pneumo::data
