#include "apps/pneumo/commands.h"
#include "data/patient_split.h"

namespace pneumo::app {
namespace fs = std::filesystem;

Result<data::Split> TrainingSplitFor(const model::ModelCard& card, const fs::path& dir) {
  const auto& training = card.training;
  if (!training.contains("seed") || !training.contains("options") || !training.contains("data"))
    return Fail(ErrorCode::kModelError,
                "the model card does not record its split (seed, validation_fraction, data)");
  auto images = data::ScanImageFolder(dir, "train");
  if (!images) return std::unexpected(images.error());
  auto fingerprint = data::FingerprintImages(*images);
  if (!fingerprint) return std::unexpected(fingerprint.error());
  if (*fingerprint != training["data"].value("fingerprint_sha256", ""))
    return Fail(ErrorCode::kInvalidArgument,
                dir.string() +
                    " is not the data this model was trained on (fingerprint "
                    "differs), so its validation patients cannot be found again");
  try {
    // Cards before 2.0 split with the training seed; later ones record the split's own seed.
    const auto seed = training.value("split_seed", training["seed"].get<std::uint64_t>());
    return data::SplitByPatient(*images, training["options"]["validation_fraction"].get<double>(),
                                seed);
  } catch (const nlohmann::json::exception& e) {
    return Fail(ErrorCode::kModelError,
                std::string("the model card's split has a wrong type: ") + e.what());
  }
}

Result<std::vector<data::LabeledImage>> ValidationImagesFor(const model::ModelCard& card,
                                                            const fs::path& dir) {
  auto split = TrainingSplitFor(card, dir);
  if (!split) return std::unexpected(split.error());
  return std::move(split->validation);
}

}  // namespace pneumo::app
