// `ometria-transformer queue migrate --from sqlite:PATH --to postgres:URL`: moves a SQLite queue into PostgreSQL
// (queue/migrate.hpp: one transaction, an empty target, counts compared before the commit) and prints the counts
// of every table, source and target, as JSON. The URL can come from --config (queue.url, its secret from the
// environment as serve reads it) so that no password is on the command line. The source file stays as it was.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "cli/queue_cli.hpp"
#include "omt/queue/migrate.hpp"

namespace omt::cli {

namespace {

constexpr std::string_view kCommand = "queue migrate";

struct MigrateArgs {
  std::string from;         // sqlite:PATH
  std::string to;           // postgres:URL
  std::string config_file;  // its queue.url when --to is not given
  bool leave_behind = false;
};

// The text after "prefix:", or nothing when it does not start so (or nothing follows).
std::optional<std::string> after_prefix(const std::string& given, std::string_view prefix) {
  if (given.size() <= prefix.size() || given.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return given.substr(prefix.size());
}

int run_migrate(const MigrateArgs& args) {
  const auto from = after_prefix(args.from, "sqlite:");
  if (!from) return fail(kCommand, "--from takes sqlite:PATH (the SQLite queue file), got \"" + args.from + "\"", exit_usage);
  std::string url;
  if (!args.to.empty()) {
    const auto given = after_prefix(args.to, "postgres:");
    if (!given) return fail(kCommand, "--to takes postgres:URL (a libpq connection string or URI)", exit_usage);
    url = *given;
  } else if (!args.config_file.empty()) {
    auto cfg = resolve_config(QueueLocation{"", args.config_file}, /*with_sources=*/false);
    if (!cfg) return fail(kCommand, cfg.error().message, exit_usage);
    if (cfg->queue.backend != "postgres") {
      return fail(kCommand, "the queue of " + args.config_file + " is not PostgreSQL (queue.backend \"" + cfg->queue.backend +
                                "\"): say where to with --to postgres:URL",
                  exit_usage);
    }
    url = cfg->queue.url;
  } else {
    return fail(kCommand, "say where to: --to postgres:URL, or --config FILE whose queue is PostgreSQL", exit_usage);
  }

  queue::MigrateOptions options;
  options.from = *from;
  options.to = url;
  options.leave_behind = args.leave_behind;
  auto report = queue::migrate_sqlite_to_postgres(options);
  if (!report) return report_error(kCommand, report.error());

  config::QueueConfig target;
  target.backend = "postgres";
  target.url = url;
  nlohmann::json out;
  out["from"] = *from;
  out["to"] = service::describe_queue(target);
  out["tables"] = nlohmann::json::array();
  std::uint64_t moved = 0;
  nlohmann::json left_behind = nlohmann::json::array();
  for (const auto& t : report->tables) {
    if (!t.moved) {
      // Only what holds rows: an empty table the target lacks loses nothing.
      if (t.source > 0) left_behind.push_back({{"table", t.table}, {"source", t.source}});
      continue;
    }
    moved += t.target_after;
    out["tables"].push_back(
        {{"table", t.table}, {"source", t.source}, {"target_before", t.target_before}, {"target_after", t.target_after}});
  }
  out["rows_moved"] = moved;
  out["left_behind"] = std::move(left_behind);
  print_json(out);
  return exit_ok;
}

}  // namespace

void add_queue_migrate_command(CLI::App& queue_cmd, int& exit_code) {
  auto args = std::make_shared<MigrateArgs>();
  auto* cmd = queue_cmd.add_subcommand(
      "migrate",
      "Move a SQLite queue into PostgreSQL: waiting records (ids, lanes, attempts, due and created times), dead "
      "letters, rejected events, held keys and what Ometria listed as rejected, in one transaction, into a database "
      "that holds no queue records yet; the counts of every table are compared before the commit and printed (JSON). "
      "Refused while a server holds the file (stop it first); the file is left as it is.");
  cmd->add_option("--from", args->from, "sqlite:PATH, the SQLite queue file")->required();
  cmd->add_option("--to", args->to, "postgres:URL, a libpq connection string or URI (default: queue.url of --config)");
  cmd->add_option("--config", args->config_file, "The service's configuration for PostgreSQL, to take queue.url from")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--leave-behind", args->leave_behind,
                "Move even when the source holds rows of tables this build's PostgreSQL queue has none for (lane "
                "totals, imports, the request log); the answer lists them under left_behind");
  cmd->footer(exit_status_footer(
      "nothing was moved: a server holds the file, the target is not empty, or a step failed (all rolled back)"));
  cmd->callback([args, &exit_code] { exit_code = run_migrate(*args); });
}

}  // namespace omt::cli
