// `ometria-transformer queue stats [--queue PATH]`: what is waiting in the durable queue, as JSON.
// API keys are shown as fingerprints (obs::key_fingerprint), never in clear.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/queue_cli.hpp"
#include "omt/obs/log.hpp"

namespace omt::cli {

namespace {

int run_queue_stats(const std::string& path) {
  auto q = open_queue_for_operator(path);
  if (!q) return report_error("queue stats", q.error());
  auto stats = (*q)->stats();
  if (!stats) return report_error("queue stats", stats.error());
  const auto now = unix_millis_now();
  auto age_seconds = [now](queue::UnixMillis created) { return std::max<std::int64_t>(now - created, 0) / 1000.0; };

  nlohmann::json out;
  out["queue"] = path;
  out["depth"] = stats->depth;
  out["dead_letters"] = stats->dead_letters;
  out["oldest_age_seconds"] = stats->oldest_created_at ? nlohmann::json(age_seconds(*stats->oldest_created_at)) : nullptr;
  out["partitions"] = nlohmann::json::array();
  for (const auto& p : stats->partitions) {
    out["partitions"].push_back({{"key", obs::key_fingerprint(p.api_key)},
                                 {"type", ometria::to_string(p.type)},
                                 {"depth", p.depth},
                                 {"oldest_age_seconds", age_seconds(p.oldest_created_at)}});
  }
  out["held_keys"] = nlohmann::json::array();
  for (const auto& held : stats->held_keys) {
    out["held_keys"].push_back(
        {{"key", obs::key_fingerprint(held.api_key)}, {"reason", held.reason}, {"held_since", iso8601_utc(held.held_at)}});
  }
  print_json(out);
  return 0;
}

}  // namespace

void add_queue_command(CLI::App& app, int& exit_code) {
  auto* queue_cmd = app.add_subcommand("queue", "Inspect the durable delivery queue");
  queue_cmd->require_subcommand(1);
  auto* stats = queue_cmd->add_subcommand("stats", "Print the queue's depth per key and type, dead letters and held keys (JSON)");
  stats->footer(exit_status_footer("the queue could not be read"));
  auto where = std::make_shared<QueueLocation>();
  add_queue_location_options(*stats, *where);
  stats->callback([where, &exit_code] {
    auto path = resolve_queue_path(*where);
    if (!path) {
      exit_code = fail("queue stats", path.error().message, exit_usage);
      return;
    }
    exit_code = run_queue_stats(*path);
  });
}

}  // namespace omt::cli
