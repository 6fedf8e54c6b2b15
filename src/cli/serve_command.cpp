// `ometria-transformer serve`: placeholder until the HTTP server lands (src/net/).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.hpp"

namespace omt::cli {

void add_serve_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Run the HTTP service");
  cmd->callback([&exit_code] {
    std::cerr << "serve: not built yet\n";
    exit_code = 2;
  });
}

}  // namespace omt::cli
