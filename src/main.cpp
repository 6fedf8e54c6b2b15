// ometria-transformer: thin entry point. Parses the command line and hands over to one subcommand.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "cli/cli_errors.hpp"
#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ometria-transformer: RudderStack identify/track events -> Ometria push API records"};
  app.set_version_flag("--version", std::string("ometria-transformer ") + OMT_VERSION);
  app.require_subcommand(1);
  app.footer(omt::cli::exit_status_footer("the command's work failed (see each command's --help)"));
  omt::cli::install_cli_conventions(app);

  int exit_code = 0;
  omt::cli::add_transform_command(app, exit_code);
  omt::cli::add_serve_command(app, exit_code);
  omt::cli::add_queue_command(app, exit_code);
  omt::cli::add_dead_letter_command(app, exit_code);
  omt::cli::add_check_config_command(app, exit_code);
  omt::cli::add_requests_command(app, exit_code);
  omt::cli::add_import_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? omt::cli::exit_ok : omt::cli::exit_usage;  // usage errors exit 2, as every --help says
  } catch (const std::exception& e) {
    return omt::cli::fail("error", e.what(), omt::cli::exit_usage);
  }
  return exit_code;
}
