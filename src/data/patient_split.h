// Splits images into train and validation by patient, stratified by label, seeded.
//
//   Split s = SplitByPatient(images, /*validation_fraction=*/0.15, /*seed=*/42);
//   // no patient_id appears in both s.train and s.validation
//
//   // evaluate and calibrate: the validation patients of a model, found again in its folder
//   Result<Split> again = RebuildSplit(dir, {.validation_fraction = 0.15, .seed = 42,
//                                            .data_fingerprint = card.split.data_fingerprint});
//
// Pure functions (RebuildSplit reads the folder); thread-safe. The same input and seed always give
// the same split.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image_folder.h"

namespace pneumo::data {

struct Split {
  std::vector<LabeledImage> train;
  std::vector<LabeledImage> validation;
};

// A patient's stratum is PNEUMONIA if any of its images is. Within each stratum,
// round(fraction * patients) patients go to validation. Output keeps the input order.
Split SplitByPatient(const std::vector<LabeledImage>& images, double validation_fraction,
                     std::uint64_t seed);

// How a split was made, as a model card records it (model::ValidationSplit).
struct SplitRecipe {
  double validation_fraction = 0.15;
  std::uint64_t seed = 42;
  std::string data_fingerprint;  // FingerprintImages of the folder's train images
};

// Scans `dir` (its train/ subfolder, or itself) and carves the same split again. kInvalidArgument
// when the folder is not the one the recipe was made from (its fingerprint differs): its validation
// patients cannot be found again. Errors of ScanImageFolder and FingerprintImages otherwise.
Result<Split> RebuildSplit(const std::filesystem::path& dir, const SplitRecipe& recipe);

}  // namespace pneumo::data
