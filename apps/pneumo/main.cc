// pneumo: pneumonia detection on chest X-rays. This file only wires subcommands; the work is in
// src/.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <string>

#include "apps/pneumo/commands.h"
#include "core/logging.h"

namespace pneumo::app {

namespace {
std::string g_command_line;
}

const std::string& CommandLine() { return g_command_line; }

std::filesystem::path DefaultModelPath() {
  if (const char* env = std::getenv("PNEUMO_MODEL"); env && *env) return env;
  return PNEUMO_DEFAULT_MODEL_DIR;
}

}  // namespace pneumo::app

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    if (i) pneumo::app::g_command_line += ' ';
    pneumo::app::g_command_line += argv[i];
  }
  CLI::App app{"pneumo: pneumonia detection on chest X-rays"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may come after the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  int exit_code = 0;
  pneumo::app::AddTrainCommand(app, exit_code);
  pneumo::app::AddEvaluateCommand(app, exit_code);
  pneumo::app::AddPredictCommand(app, exit_code);
  pneumo::app::AddCalibrateCommand(app, exit_code);
  pneumo::app::AddServeCommand(app, exit_code);
  pneumo::app::AddEnsembleCommand(app, exit_code);
  pneumo::app::AddModelCommand(app, exit_code);
  pneumo::app::AddAccountCommands(app, exit_code);
  app.parse_complete_callback([&] { pneumo::log::Init(log_level); });
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
