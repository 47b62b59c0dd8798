#include "apps/pneumo/commands.h"
#include "data/patient_split.h"

namespace pneumo::app {
namespace fs = std::filesystem;

Result<std::vector<data::LabeledImage>> ValidationImagesFor(const model::ModelCard& card, const fs::path& dir) {
  const auto& training = card.training;
  if (!training.contains("seed") || !training.contains("options") || !training.contains("data"))
    return Fail(ErrorCode::kModelError, "the model card does not record its split (seed, validation_fraction, data)");
  auto images = data::ScanImageFolder(dir, "train");
  if (!images) return images;
  auto fingerprint = data::FingerprintImages(*images);
  if (!fingerprint) return std::unexpected(fingerprint.error());
  if (*fingerprint != training["data"].value("fingerprint_sha256", ""))
    return Fail(ErrorCode::kInvalidArgument, dir.string() + " is not the data this model was trained on (fingerprint "
                                             "differs), so its validation patients cannot be found again");
  return data::SplitByPatient(*images, training["options"]["validation_fraction"].get<double>(),
                              training["seed"].get<std::uint64_t>())
      .validation;
}

}  // namespace pneumo::app
