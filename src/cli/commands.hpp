// The subcommands of the ometria-transformer executable, one file each in src/cli/.
// Each add_*_command registers its subcommand on the app; when it runs, it stores its exit code in exit_code.
#pragma once

namespace CLI {
class App;
}

namespace omt::cli {

void add_transform_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_queue_command(CLI::App& app, int& exit_code);        // queue stats|rekey|release|migrate
void add_queue_migrate_command(CLI::App& queue_cmd, int& exit_code);  // queue migrate (under `queue`)
void add_dead_letter_command(CLI::App& app, int& exit_code);  // dead-letter list|replay|purge
void add_check_config_command(CLI::App& app, int& exit_code);  // check-config --config FILE
void add_requests_command(CLI::App& app, int& exit_code);  // requests: the request log
void add_import_command(CLI::App& app, int& exit_code);        // import FILE... --source NAME; import status

}  // namespace omt::cli
