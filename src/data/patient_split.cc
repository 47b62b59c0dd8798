#include "data/patient_split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>

namespace pneumo::data {

Split SplitByPatient(const std::vector<LabeledImage>& images, double validation_fraction,
                     std::uint64_t seed) {
  std::map<std::string, int>
      patient_stratum;  // ordered: the shuffle below starts from a fixed order
  for (const auto& image : images) {
    int& stratum = patient_stratum[image.patient_id];
    stratum = std::max(stratum, image.label);
  }
  std::vector<std::string> strata[2];
  for (const auto& [patient, stratum] : patient_stratum) strata[stratum].push_back(patient);

  std::mt19937_64 rng(seed);
  std::set<std::string> validation_patients;
  for (auto& patients : strata) {
    std::shuffle(patients.begin(), patients.end(), rng);
    const auto take = static_cast<std::size_t>(std::lround(
        std::clamp(validation_fraction, 0.0, 1.0) * static_cast<double>(patients.size())));
    validation_patients.insert(patients.begin(), patients.begin() + static_cast<long>(take));
  }
  Split split;
  for (const auto& image : images) {
    (validation_patients.contains(image.patient_id) ? split.validation : split.train)
        .push_back(image);
  }
  return split;
}

Result<Split> RebuildSplit(const std::filesystem::path& dir, const SplitRecipe& recipe) {
  auto images = ScanImageFolder(dir, "train");
  if (!images) return std::unexpected(images.error());
  auto fingerprint = FingerprintImages(*images);
  if (!fingerprint) return std::unexpected(fingerprint.error());
  if (*fingerprint != recipe.data_fingerprint) {
    return Fail(ErrorCode::kInvalidArgument,
                dir.string() +
                    " is not the data this model was trained on (fingerprint differs), so its "
                    "validation patients cannot be found again");
  }
  return SplitByPatient(*images, recipe.validation_fraction, recipe.seed);
}

}  // namespace pneumo::data
