// `ometria-transformer dead-letter list|replay|purge [--queue PATH] [--limit N] [--id ID...]`: inspect the
// records Ometria refused (with why), put them back in the queue, or delete them. Output is JSON.
// `dead-letter list --ometria-errors` lists what Ometria rejected after accepting a push (GET /v2/push/_errors).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <optional>

#include "cli/commands.hpp"
#include "cli/queue_cli.hpp"
#include "omt/obs/log.hpp"

namespace omt::cli {

namespace {

struct DeadLetterArgs {
  std::string path = default_queue_path;  // resolved from `where` before a command runs
  QueueLocation where;
  std::int64_t limit = 0;
  std::vector<queue::RecordId> ids;
  bool all = false;
  bool ometria_errors = false;  // list: the errors Ometria listed instead of the dead letters
};

queue::DeadLetterSelection selection(const DeadLetterArgs& args) { return queue::DeadLetterSelection{args.ids, static_cast<std::size_t>(args.limit)}; }

// What Ometria rejected after accepting the pushes, newest first, with the push and records delivery matched it
// to (when the entry carried ids and the push was recent enough), as the service kept them.
int run_list_ometria_errors(const DeadLetterArgs& args) {
  if (!args.ids.empty()) return fail("dead-letter list", "--id names dead letters; it does not go with --ometria-errors", exit_usage);
  auto q = open_queue_for_operator(args.path);
  if (!q) return report_error("dead-letter list", q.error());
  auto errors = (*q)->ometria_errors(static_cast<std::size_t>(args.limit));
  if (!errors) return report_error("dead-letter list", errors.error());
  const auto optional_text = [](const std::optional<std::string>& text) {
    return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
  };
  nlohmann::json out;
  out["queue"] = args.path;
  out["count"] = errors->size();
  out["ometria_errors"] = nlohmann::json::array();
  for (const auto& e : *errors) {
    nlohmann::json matched = nullptr;
    if (e.match) {
      matched = {{"record_ids", e.match->record_ids},
                 {"request_id", e.match->request_id},
                 {"type", e.match->type},
                 {"pushed_at", iso8601_utc(e.match->pushed_at_unix_ms)}};
    }
    out["ometria_errors"].push_back({{"key", obs::key_fingerprint(e.api_key)},
                                     {"error_message", e.error.message},
                                     {"error_path", e.error.path},
                                     {"record_id", optional_text(e.error.record_id)},
                                     {"request_id", optional_text(e.error.request_id)},
                                     {"record_type", optional_text(e.error.record_type)},
                                     {"time_stamp", optional_text(e.error.time_stamp)},
                                     {"occurrences", e.occurrences},
                                     {"first_seen_at", iso8601_utc(e.first_seen_at)},
                                     {"last_seen_at", iso8601_utc(e.last_seen_at)},
                                     {"matched", std::move(matched)}});
  }
  print_json(out);
  return 0;
}

int run_list(const DeadLetterArgs& args) {
  if (args.ometria_errors) return run_list_ometria_errors(args);
  auto q = open_queue_for_operator(args.path);
  if (!q) return report_error("dead-letter list", q.error());
  auto dead = (*q)->dead_letters(selection(args));
  if (!dead) return report_error("dead-letter list", dead.error());
  nlohmann::json out;
  out["queue"] = args.path;
  out["count"] = dead->size();
  out["dead_letters"] = nlohmann::json::array();
  for (const auto& d : *dead) {
    // Records were compact JSON when stored; show them as JSON, or as text if the database holds something else.
    auto record = nlohmann::json::parse(d.record.json, nullptr, /*allow_exceptions=*/false);
    out["dead_letters"].push_back({{"id", d.record.id},
                                   {"key", obs::key_fingerprint(d.record.api_key)},
                                   {"type", ometria::to_string(d.record.type)},
                                   {"attempts", d.record.attempts},
                                   {"reason", d.reason},
                                   {"created_at", iso8601_utc(d.record.created_at)},
                                   {"dead_at", iso8601_utc(d.dead_at)},
                                   {"record", record.is_discarded() ? nlohmann::json(d.record.json) : record}});
  }
  print_json(out);
  return 0;
}

// With --id, every id must name a dead letter: an unknown one (a typo, or already replayed or purged) is an
// error and nothing is done, so that an operator never believes a record went back that did not.
std::optional<int> refuse_unknown_ids(queue::Queue& q, const DeadLetterArgs& args, std::string_view command) {
  if (args.ids.empty()) return std::nullopt;
  auto found = q.dead_letters(queue::DeadLetterSelection{args.ids, 0});
  if (!found) return report_error(command, found.error());
  std::string missing;
  for (const auto id : args.ids) {
    const bool known = std::any_of(found->begin(), found->end(), [id](const auto& d) { return d.record.id == id; });
    if (!known) missing += (missing.empty() ? "" : ", ") + std::to_string(id);
  }
  if (missing.empty()) return std::nullopt;
  return fail(command, "no dead letter with id " + missing + " (see `dead-letter list`); nothing was done", exit_failed);
}

int run_replay(const DeadLetterArgs& args) {
  auto q = open_queue_for_operator(args.path);
  if (!q) return report_error("dead-letter replay", q.error());
  if (const auto refused = refuse_unknown_ids(**q, args, "dead-letter replay")) return *refused;
  auto replayed = (*q)->replay(selection(args));
  if (!replayed) return report_error("dead-letter replay", replayed.error());
  print_json({{"queue", args.path}, {"replayed", *replayed}});
  return 0;
}

int run_purge(const DeadLetterArgs& args) {
  if (args.ids.empty() && !args.all) {
    return fail("dead-letter purge", "name the records with --id ID... or pass --all", exit_usage);
  }
  auto q = open_queue_for_operator(args.path);
  if (!q) return report_error("dead-letter purge", q.error());
  if (const auto refused = refuse_unknown_ids(**q, args, "dead-letter purge")) return *refused;
  auto purged = (*q)->purge(selection(args));
  if (!purged) return report_error("dead-letter purge", purged.error());
  print_json({{"queue", args.path}, {"purged", *purged}});
  return 0;
}

// Resolves --queue / --config into args.path, then runs the command (exit 2 if the location is unusable).
int with_queue_path(DeadLetterArgs& args, const char* command, int (*run)(const DeadLetterArgs&)) {
  auto path = resolve_queue_path(args.where);
  if (!path) {
    return fail(command, path.error().message, exit_usage);
  }
  args.path = *path;
  return run(args);
}

void add_common_options(CLI::App& cmd, DeadLetterArgs& args, const char* limit_help) {
  add_queue_location_options(cmd, args.where);
  cmd.add_option("--limit", args.limit, limit_help)->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000'000}));
  cmd.add_option("--id", args.ids, "Only these dead-letter ids (see `dead-letter list`)")->default_str("");
}

}  // namespace

void add_dead_letter_command(CLI::App& app, int& exit_code) {
  auto* dead = app.add_subcommand("dead-letter", "List, replay or purge the records Ometria refused");
  dead->require_subcommand(1);

  auto list_args = std::make_shared<DeadLetterArgs>();
  list_args->limit = 100;
  auto* list = dead->add_subcommand("list", "Print dead letters with their reasons (JSON), oldest first");
  add_common_options(*list, *list_args, "At most this many (default 100; 0 = all)");
  list->add_flag("--ometria-errors", list_args->ometria_errors,
                 "Instead: what Ometria rejected after accepting a push (GET /v2/push/_errors, read by serve), newest "
                 "first, matched to the records delivery sent where Ometria's entry carries ids");
  list->footer(exit_status_footer("the queue could not be read"));
  list->callback([list_args, &exit_code] { exit_code = with_queue_path(*list_args, "dead-letter list", run_list); });

  auto replay_args = std::make_shared<DeadLetterArgs>();
  auto* replay = dead->add_subcommand("replay", "Put dead letters back in the queue (all, or --id ...), oldest first");
  add_common_options(*replay, *replay_args, "At most this many (default 0 = all)");
  replay->footer(exit_status_footer("the queue could not be changed, or an --id names no dead letter (then none is replayed)"));
  replay->callback([replay_args, &exit_code] { exit_code = with_queue_path(*replay_args, "dead-letter replay", run_replay); });

  auto purge_args = std::make_shared<DeadLetterArgs>();
  auto* purge = dead->add_subcommand("purge", "Delete dead letters for good (--id ... or --all)");
  add_common_options(*purge, *purge_args, "At most this many (default 0 = all)");
  purge->add_flag("--all", purge_args->all, "Purge every dead letter (or the oldest --limit N)");
  purge->footer(exit_status_footer("the queue could not be changed, or an --id names no dead letter (then none is purged)"));
  purge->callback([purge_args, &exit_code] { exit_code = with_queue_path(*purge_args, "dead-letter purge", run_purge); });
}

}  // namespace omt::cli
