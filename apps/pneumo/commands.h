// The subcommands of the pneumo binary. Each Add*Command registers its flags on `app` and returns
// the exit code through `exit_code` when the subcommand runs.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>

namespace pneumo::app {

void AddTrainCommand(CLI::App& app, int& exit_code);
void AddEvaluateCommand(CLI::App& app, int& exit_code);
void AddPredictCommand(CLI::App& app, int& exit_code);

// --model's default: $PNEUMO_MODEL, else the shipped model next to the binary's source tree.
std::filesystem::path DefaultModelPath();

// The whole command line, for model cards.
const std::string& CommandLine();

}  // namespace pneumo::app
