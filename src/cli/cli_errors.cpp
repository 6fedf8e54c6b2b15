#include "cli/cli_errors.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

namespace omt::cli {

int fail(std::string_view command, std::string_view message, int exit_code) {
  std::cerr << "ometria-transformer " << command << ": " << message << "\n";
  return exit_code;
}

std::string exit_status_footer(std::string_view what_failed_means) {
  return "Exit status: 0 done; 1 " + std::string(what_failed_means) + "; 2 unusable input or options.";
}

namespace {

// "dead-letter replay": the chain of subcommands that was being parsed when the error happened.
std::string command_path(const CLI::App* app) {
  std::string path;
  for (const CLI::App* at = app; at != nullptr;) {
    const auto chosen = at->get_subcommands();
    if (chosen.empty()) break;
    at = chosen.back();
    if (!path.empty()) path += ' ';
    path += at->get_name();
  }
  return path;
}

}  // namespace

void install_cli_conventions(CLI::App& app) {
  app.option_defaults()->always_capture_default();
  app.failure_message([](const CLI::App* failed, const CLI::Error& error) {
    const std::string path = command_path(failed);
    std::string text = "ometria-transformer" + (path.empty() ? std::string() : " " + path) + ": " + error.what() + "\n";
    text += "Run with --help for more information.\n";
    return text;
  });
}

}  // namespace omt::cli
