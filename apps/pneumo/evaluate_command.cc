#include "apps/pneumo/commands.h"
namespace pneumo::app {
void AddEvaluateCommand(CLI::App& app, int& exit_code) {}
}
