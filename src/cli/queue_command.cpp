// `ometria-transformer queue stats|rekey|release`: what is waiting in the durable queue (JSON), and the operator's
// way out for records under a key no source has any more: move them to a source's current key, or give them up
// to the dead-letter store. API keys are shown as fingerprints (obs::key_fingerprint), never in clear.
// Records keep the key they were accepted under (a key names an Ometria account), so only these commands move them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "cli/commands.hpp"
#include "cli/queue_cli.hpp"
#include "cli/queue_lanes.hpp"
#include "omt/obs/log.hpp"
#include "omt/service/key_sources.hpp"

namespace omt::cli {

namespace {

struct KeyArgs {
  QueueLocation where;
  std::string fingerprint;  // --from / --key
  std::string source;       // --source (rekey)
  bool to_dead_letter = false;  // --to-dead-letter (release)
};

// "key:1a2b3c4d" as queue stats prints it; the bare hex digits are taken too.
std::string normalized_fingerprint(const std::string& given) {
  return given.rfind("key:", 0) == 0 ? given : "key:" + given;
}

// The key behind a fingerprint, among the keys the queue holds records or a hold under.
Expected<std::optional<std::string>> queued_key(queue::Queue& q, const std::string& fingerprint) {
  auto stats = q.stats();
  if (!stats) return tl::unexpected(stats.error());
  for (const auto& p : stats->partitions) {
    if (obs::key_fingerprint(p.api_key) == fingerprint) return std::optional<std::string>(p.api_key);
  }
  for (const auto& h : stats->held_keys) {
    if (obs::key_fingerprint(h.api_key) == fingerprint) return std::optional<std::string>(h.api_key);
  }
  return std::optional<std::string>{};
}

int no_such_key(std::string_view command, const std::string& fingerprint) {
  return fail(command, "the queue holds no records and no hold under " + fingerprint + " (see `queue stats`); nothing was done",
              exit_failed);
}

// Which instance delivers which key, when several share the queue (PostgreSQL): each instance with its last
// heartbeat's age and its keys (fingerprints), and the keys with records nobody claims (taken at the next round).
nlohmann::json delivery_instances_json(const queue::QueueStats& stats, queue::UnixMillis now) {
  if (!stats.instances) {
    return {{"shared", false}, {"note", "the queue is local to one instance (SQLite), which delivers every key"}};
  }
  std::set<std::string> claimed;
  std::size_t live = 0;
  nlohmann::json instances = nlohmann::json::array();
  for (const auto& instance : *stats.instances) {
    const bool alive = instance.heartbeat_at && instance.expires_at > now;
    live += alive ? 1 : 0;
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& key : instance.keys) {
      keys.push_back(obs::key_fingerprint(key));
      claimed.insert(key);
    }
    instances.push_back(
        {{"instance", instance.instance_id},
         {"live", alive},
         {"heartbeat_age_seconds", instance.heartbeat_at ? nlohmann::json(age_seconds(*instance.heartbeat_at, now)) : nullptr},
         {"keys_owned", instance.keys.size()},
         {"keys", std::move(keys)}});
  }
  nlohmann::json unclaimed = nlohmann::json::array();
  for (const auto& p : stats.partitions) {
    if (claimed.insert(p.api_key).second) unclaimed.push_back(obs::key_fingerprint(p.api_key));
  }
  return {{"shared", true}, {"live_instances", live}, {"instances", std::move(instances)}, {"unclaimed_keys", std::move(unclaimed)}};
}

int run_queue_stats(const QueueLocation& where) {
  auto target = resolve_queue(where);
  if (!target) return fail("queue stats", target.error().message, exit_usage);
  const KeySourceNames source_of(where);
  const auto& sources_error = source_of.error();

  auto q = open_queue_for_operator(*target);
  if (!q) return report_error("queue stats", q.error());
  auto stats = (*q)->stats();
  if (!stats) return report_error("queue stats", stats.error());
  const auto now = unix_millis_now();

  nlohmann::json out;
  out["queue"] = target->label;
  out["depth"] = stats->depth;
  out["dead_letters"] = stats->dead_letters;
  out["rejected_events"] = stats->rejected_events;
  out["oldest_age_seconds"] = stats->oldest_created_at ? nlohmann::json(age_seconds(*stats->oldest_created_at, now)) : nullptr;
  if (sources_error) out["sources_error"] = *sources_error;
  // "partitions": one entry per (key, type) with records waiting, as before, with its depth per lane. "lanes":
  // every (key, type, lane) with records waiting or ever delivered or dead-lettered (kept across restarts): seed
  // 004's "records amount in the export queue" per type and lane, as `import status` shows it.
  std::uint64_t lane_depth[2] = {0, 0};
  out["partitions"] = nlohmann::json::array();
  out["lanes"] = nlohmann::json::array();
  const std::vector<queue::PartitionStats> partitions = all_lanes(*stats);
  for (std::size_t i = 0; i < partitions.size();) {
    const auto& first = partitions[i];
    std::uint64_t depth = 0;
    std::optional<queue::UnixMillis> oldest;
    nlohmann::json depths = {{"live", 0}, {"backfill", 0}};
    for (; i < partitions.size() && partitions[i].api_key == first.api_key && partitions[i].type == first.type; ++i) {
      const auto& p = partitions[i];
      const std::string lane(queue::lane_name(p.lane));
      depth += p.depth;
      lane_depth[p.lane == queue::Lane::backfill ? 1 : 0] += p.depth;
      depths[lane] = p.depth;
      if (p.depth > 0 && (!oldest || p.oldest_created_at < *oldest)) oldest = p.oldest_created_at;
      out["lanes"].push_back(lane_json(p, source_of(p.api_key), now));
    }
    if (depth == 0) continue;
    out["partitions"].push_back({{"key", obs::key_fingerprint(first.api_key)},
                                 {"source", source_of(first.api_key)},
                                 {"type", ometria::to_string(first.type)},
                                 {"depth", depth},
                                 {"oldest_age_seconds", age_seconds(*oldest, now)},
                                 {"lanes", std::move(depths)}});
  }
  out["live_depth"] = lane_depth[0];
  out["backfill_depth"] = lane_depth[1];
  out["held_keys"] = nlohmann::json::array();
  for (const auto& held : stats->held_keys) {
    out["held_keys"].push_back({{"key", obs::key_fingerprint(held.api_key)},
                                {"source", source_of(held.api_key)},
                                {"reason", held.reason},
                                {"held_since", iso8601_utc(held.held_at)}});
  }
  out["delivery_instances"] = delivery_instances_json(*stats, now);
  print_json(out);
  return 0;
}

int run_rekey(const KeyArgs& args) {
  constexpr std::string_view command = "queue rekey";
  // The sources' keys come from the configuration and the environment, exactly as serve reads them.
  auto cfg = resolve_config(args.where, /*with_sources=*/true);
  if (!cfg) return fail(command, cfg.error().message, exit_usage);
  const config::SourceConfig* source = nullptr;
  std::string names;
  for (const auto& s : cfg->sources) {
    if (s.name == args.source) source = &s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  if (source == nullptr) {
    return fail(command, "no source named \"" + args.source + "\" in the configuration (" +
                             (names.empty() ? std::string("it has no sources") : "sources: " + names) +
                             "); nothing was done",
                exit_failed);
  }
  const OperatorQueue target = operator_queue_of(args.where, *cfg);
  const std::string from = normalized_fingerprint(args.fingerprint);
  auto q = open_queue_for_operator(target);
  if (!q) return report_error(command, q.error());
  auto key = queued_key(**q, from);
  if (!key) return report_error(command, key.error());
  if (!*key) return no_such_key(command, from);
  const std::string& to_key = source->destination.api_key;
  if (**key == to_key) {
    return fail(command, from + " is already the current key of source \"" + source->name + "\"; nothing to move",
                exit_failed);
  }
  auto moved = (*q)->rekey(**key, to_key);
  if (!moved) return report_error(command, moved.error());
  print_json({{"queue", target.label},
              {"from", from},
              {"to", obs::key_fingerprint(to_key)},
              {"source", source->name},
              {"moved", *moved}});
  return 0;
}

int run_release(const KeyArgs& args) {
  constexpr std::string_view command = "queue release";
  if (!args.to_dead_letter) {
    return fail(command, "say what becomes of the records: --to-dead-letter (the only way release gives them up)",
                exit_usage);
  }
  auto target = resolve_queue(args.where);
  if (!target) return fail(command, target.error().message, exit_usage);
  const std::string fingerprint = normalized_fingerprint(args.fingerprint);
  auto q = open_queue_for_operator(*target);
  if (!q) return report_error(command, q.error());
  auto key = queued_key(**q, fingerprint);
  if (!key) return report_error(command, key.error());
  if (!*key) return no_such_key(command, fingerprint);
  const std::string reason = "given up by the operator (queue release --key " + fingerprint + " --to-dead-letter)";
  auto released = (*q)->release_key(**key, reason);
  if (!released) return report_error(command, released.error());
  print_json({{"queue", target->label}, {"key", fingerprint}, {"dead_lettered", *released}});
  return 0;
}

}  // namespace

void add_queue_command(CLI::App& app, int& exit_code) {
  auto* queue_cmd = app.add_subcommand("queue", "Inspect the durable delivery queue; move or give up a key's records");
  queue_cmd->require_subcommand(1);

  auto* stats = queue_cmd->add_subcommand(
      "stats", "Print the queue's depth per key and type (and per lane: live and backfill, with the records each "
               "delivered and dead-lettered), dead letters and held keys, each key with the source(s) whose current "
               "key it is, and on a shared (PostgreSQL) queue which instance delivers which key (JSON)");
  stats->footer(exit_status_footer("the queue could not be read"));
  auto where = std::make_shared<QueueLocation>();
  add_queue_location_options(*stats, *where);
  stats->callback([where, &exit_code] { exit_code = run_queue_stats(*where); });

  auto rekey_args = std::make_shared<KeyArgs>();
  auto* rekey = queue_cmd->add_subcommand(
      "rekey",
      "Move every waiting record of an old key to a source's current key (ids, attempts and due times kept) and drop "
      "the old key's hold. Records keep the key they were accepted under, so a corrected key in the configuration "
      "does not move them by itself. Beside a running service: the moved records flow at once under the new key; "
      "its /health may list the old key as held until its next start.");
  add_queue_location_options(*rekey, rekey_args->where);
  rekey->add_option("--from", rekey_args->fingerprint, "The old key's fingerprint, as `queue stats` shows it (key:1a2b3c4d)")
      ->required();
  rekey->add_option("--source", rekey_args->source,
                    "The source (in --config; its api_key from the environment as for serve) whose current key the "
                    "records move to")
      ->required();
  rekey->footer(exit_status_footer(
      "the queue could not be changed, the queue holds nothing under that fingerprint, no source has that name, or the "
      "key already is that source's (then nothing is moved)"));
  rekey->callback([rekey_args, &exit_code] { exit_code = run_rekey(*rekey_args); });

  auto release_args = std::make_shared<KeyArgs>();
  auto* release = queue_cmd->add_subcommand(
      "release",
      "Give up every waiting record of a key: move them to the dead-letter store (`dead-letter replay` puts them back "
      "under the same key) and drop the key's hold. Meant for a held key beside a running service: its records are "
      "not being pushed then (a record another key's push had in flight could be both delivered and dead-lettered).");
  add_queue_location_options(*release, release_args->where);
  release->add_option("--key", release_args->fingerprint, "The key's fingerprint, as `queue stats` shows it (key:1a2b3c4d)")
      ->required();
  release->add_flag("--to-dead-letter", release_args->to_dead_letter, "Move the records to the dead-letter store (required)");
  release->footer(exit_status_footer(
      "the queue could not be changed, or the queue holds nothing under that fingerprint (then nothing is moved)"));
  release->callback([release_args, &exit_code] { exit_code = run_release(*release_args); });

  add_queue_migrate_command(*queue_cmd, exit_code);
}

}  // namespace omt::cli
