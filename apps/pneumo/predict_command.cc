#include "apps/pneumo/commands.h"
namespace pneumo::app {
void AddPredictCommand(CLI::App& app, int& exit_code) {}
}
