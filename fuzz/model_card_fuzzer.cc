// Arbitrary text as a model directory's card.json, read by model::LoadModelCard as `pneumo serve`,
// predict and `model publish` do. Checks: a card that loads is written (ToJson) as JSON that reads
// back (ModelCardFromJson) to the same card; what it accepts is usable: input size, temperature,
// threshold and normalisation in range and finite, weights and OOD files inside the directory.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.h"
#include "model/model_card.h"

namespace {

namespace fs = std::filesystem;

bool Inside(const std::string& file) {
  const fs::path path(file);
  return !path.empty() && !path.is_absolute() &&
         !path.lexically_normal().string().starts_with("..");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pneumo::model;
  static const fs::path dir =
      fs::temp_directory_path() / ("pneumo-card-fuzz-" + std::to_string(getpid()));
  static const bool made = fs::create_directories(dir) || fs::is_directory(dir);
  FUZZ_CHECK(made, "cannot make the temporary model directory");
  std::ofstream(dir / kCardFile, std::ios::binary).write(reinterpret_cast<const char*>(data), size);

  auto card = LoadModelCard(dir);
  if (!card) return 0;
  FUZZ_CHECK(card->input_size >= 8 && card->input_size <= 4096, "input size out of range");
  FUZZ_CHECK(std::isfinite(card->temperature) && card->temperature > 0, "unusable temperature");
  FUZZ_CHECK(std::isfinite(card->bias), "a bias that is not finite");
  FUZZ_CHECK(card->threshold > 0 && card->threshold < 1, "threshold outside (0, 1)");
  FUZZ_CHECK(std::isfinite(card->normalization.mean) && std::isfinite(card->normalization.std) &&
                 card->normalization.std > 0,
             "unusable normalisation");
  for (const ModelMember& m : MembersOf(*card))
    FUZZ_CHECK(Inside(m.weights_file), "a member's weights outside the model directory");
  if (!card->ood.file.empty()) {
    FUZZ_CHECK(Inside(card->ood.file), "OOD statistics outside the model directory");
    FUZZ_CHECK(std::isfinite(card->ood.threshold) && card->ood.threshold > 0,
               "unusable OOD threshold");
  }
  const nlohmann::json written = ToJson(*card);
  auto again = ModelCardFromJson(written);
  if (!again) std::fprintf(stderr, "reading it back: %s\n", again.error().message.c_str());
  FUZZ_CHECK(again.has_value(), "a loaded card, written again, does not read back");
  FUZZ_CHECK(ToJson(*again) == written, "a loaded card does not survive ToJson and back");
  return 0;
}
