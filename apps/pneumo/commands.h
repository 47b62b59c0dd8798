// The subcommands of the pneumo binary. Each Add*Command registers its flags on `app` and returns
// the exit code through `exit_code` when the subcommand runs.
#pragma once

#include <CLI/CLI.hpp>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image_folder.h"
#include "data/patient_split.h"
#include "model/model_card.h"

namespace pneumo::app {

void AddTrainCommand(CLI::App& app, int& exit_code);
void AddEvaluateCommand(CLI::App& app, int& exit_code);
void AddPredictCommand(CLI::App& app, int& exit_code);
void AddCalibrateCommand(CLI::App& app, int& exit_code);
void AddServeCommand(CLI::App& app, int& exit_code);
void AddEnsembleCommand(CLI::App& app, int& exit_code);
void AddModelCommand(CLI::App& app, int& exit_code);
// pneumo user, pneumo token and pneumo audit (account_commands.cc).
void AddAccountCommands(CLI::App& app, int& exit_code);

// --data-dir's default: $PNEUMO_DATA_DIR, else ./pneumo-data.
std::filesystem::path DefaultDataDir();
// `store` when given, else SQLite at data_dir/results.db (creating data_dir): the store every
// subcommand uses by default, `pneumo serve` included.
Result<std::string> StoreUrlOrDefault(const std::string& store,
                                      const std::filesystem::path& data_dir);

// The validation images a model was calibrated on: `data` (a Kermany folder or its parent) split
// by patient again with the seed and fraction recorded in the card. kInvalidArgument when the
// folder's fingerprint differs from the card's, since the patients would then differ too.
Result<std::vector<data::LabeledImage>> ValidationImagesFor(const model::ModelCard& card,
                                                            const std::filesystem::path& data);

// The whole train/validation split of the model's training run, re-carved the same way.
Result<data::Split> TrainingSplitFor(const model::ModelCard& card,
                                     const std::filesystem::path& data);

// What `pneumo calibrate` does: refit the calibration and threshold on the stress validation and,
// with fit_ood, the OOD statistics on the training patients; rewrites the card. Prints a summary.
Result<void> Recalibrate(const std::filesystem::path& model, const std::filesystem::path& data,
                         bool fit_ood, double ood_percentile);

// --model's default: $PNEUMO_MODEL, else the shipped model next to the binary's source tree.
std::filesystem::path DefaultModelPath();

// The current UTC time in a strftime format, for cards and version names.
inline std::string UtcNow(const char* format = "%Y-%m-%dT%H:%M:%SZ") {
  const std::time_t now = std::time(nullptr);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, format, std::gmtime(&now));
  return buffer;
}

// The whole command line, for model cards.
const std::string& CommandLine();

}  // namespace pneumo::app
