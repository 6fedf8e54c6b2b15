// How every subcommand says what went wrong, and the exit codes each --help lists: errors on stderr as
// "ometria-transformer COMMAND: message" (command-line parse errors too, see install_cli_conventions), and
//   0  done;  1  the work failed (some events did not transform, a queue operation failed, an unknown id);
//   2  unusable input or options (nothing was done).
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace omt::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;

// Prints "ometria-transformer COMMAND: message" on stderr and returns exit_code.
int fail(std::string_view command, std::string_view message, int exit_code);

// The footer of every subcommand's --help: the exit codes, with what 1 means for that command.
std::string exit_status_footer(std::string_view what_failed_means);

// On the top-level app, before any subcommand is added (they inherit it): every option's default is shown in
// --help, and parse errors name the subcommand as fail() does.
void install_cli_conventions(CLI::App& app);

}  // namespace omt::cli
