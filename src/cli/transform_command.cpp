// Placeholder until the transform command lands.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace omt::cli {
void add_transform_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("transform", "Transform events to Ometria records");
  cmd->callback([&exit_code] { exit_code = 2; });
}
}  // namespace omt::cli
