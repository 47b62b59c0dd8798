#include "apps/pneumo/commands.h"
#include "data/patient_split.h"

namespace pneumo::app {
namespace fs = std::filesystem;

Result<data::Split> TrainingSplitFor(const model::ModelCard& card, const fs::path& dir) {
  if (!card.split.recorded) {
    return Fail(ErrorCode::kModelError,
                "the model card does not record its split (seed, validation_fraction, data)");
  }
  return data::RebuildSplit(dir, {.validation_fraction = card.split.fraction,
                                  .seed = card.split.seed,
                                  .data_fingerprint = card.split.data_fingerprint});
}

Result<std::vector<data::LabeledImage>> ValidationImagesFor(const model::ModelCard& card,
                                                            const fs::path& dir) {
  auto split = TrainingSplitFor(card, dir);
  if (!split) return std::unexpected(split.error());
  return std::move(split->validation);
}

}  // namespace pneumo::app
