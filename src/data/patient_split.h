// Splits images into train and validation by patient, stratified by label, seeded.
//
//   Split s = SplitByPatient(images, /*validation_fraction=*/0.15, /*seed=*/42);
//   // no patient_id appears in both s.train and s.validation
//
// Pure function; thread-safe. The same input and seed always give the same split.
#pragma once

#include <cstdint>
#include <vector>

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

}  // namespace pneumo::data
