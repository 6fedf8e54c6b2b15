// `ometria-transformer dead-letter list|replay|purge [--queue PATH] [--limit N] [--id ID...]`: inspect the
// records Ometria refused (with why), put them back in the queue, or delete them. With --events, list and replay
// the events ingest could not transform (kept with their reason): replay transforms them again with today's
// mappings and source settings, so the fix for a bad mapping is to change it, then replay. Output is JSON.
// `dead-letter list --ometria-errors` lists what Ometria rejected after accepting a push (GET /v2/push/_errors).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include "cli/commands.hpp"
#include "cli/mappings_location.hpp"
#include "cli/queue_cli.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/queue_events.hpp"
#include "omt/protocol/ingest.hpp"

namespace omt::cli {

namespace {

struct DeadLetterArgs {
  OperatorQueue queue;  // resolved from `where` before a command runs
  QueueLocation where;
  std::int64_t limit = 0;
  std::vector<queue::RecordId> ids;
  bool all = false;
  bool events = false;  // the rejected events instead of the dead letters
  std::string since;    // --since (with --events)
  std::string source;   // --source (with --events)
  bool ometria_errors = false;  // list: the errors Ometria listed instead of the dead letters
};

queue::DeadLetterSelection selection(const DeadLetterArgs& args) { return queue::DeadLetterSelection{args.ids, static_cast<std::size_t>(args.limit)}; }

// What Ometria rejected after accepting the pushes, newest first, with the push and records delivery matched it
// to (when the entry carried ids and the push was recent enough), as the service kept them.
int run_list_ometria_errors(const DeadLetterArgs& args) {
  if (!args.ids.empty()) return fail("dead-letter list", "--id names dead letters; it does not go with --ometria-errors", exit_usage);
  auto q = open_queue_for_operator(args.queue);
  if (!q) return report_error("dead-letter list", q.error());
  queue::OmetriaErrorLog* log = (*q)->ometria_error_log();
  if (log == nullptr) return fail("dead-letter list", "this queue keeps no Ometria errors", exit_failed);
  auto errors = log->ometria_errors(static_cast<std::size_t>(args.limit));
  if (!errors) return report_error("dead-letter list", errors.error());
  const auto optional_text = [](const std::optional<std::string>& text) {
    return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
  };
  nlohmann::json out;
  out["queue"] = args.queue.label;
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
  auto q = open_queue_for_operator(args.queue);
  if (!q) return report_error("dead-letter list", q.error());
  auto dead = (*q)->dead_letters(selection(args));
  if (!dead) return report_error("dead-letter list", dead.error());
  nlohmann::json out;
  out["queue"] = args.queue.label;
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
  auto q = open_queue_for_operator(args.queue);
  if (!q) return report_error("dead-letter replay", q.error());
  if (const auto refused = refuse_unknown_ids(**q, args, "dead-letter replay")) return *refused;
  auto replayed = (*q)->replay(selection(args));
  if (!replayed) return report_error("dead-letter replay", replayed.error());
  print_json({{"queue", args.queue.label}, {"replayed", *replayed}});
  return 0;
}

int run_purge(const DeadLetterArgs& args) {
  if (args.ids.empty() && !args.all) {
    return fail("dead-letter purge", "name the records with --id ID... or pass --all", exit_usage);
  }
  auto q = open_queue_for_operator(args.queue);
  if (!q) return report_error("dead-letter purge", q.error());
  if (const auto refused = refuse_unknown_ids(**q, args, "dead-letter purge")) return *refused;
  auto purged = (*q)->purge(selection(args));
  if (!purged) return report_error("dead-letter purge", purged.error());
  print_json({{"queue", args.queue.label}, {"purged", *purged}});
  return 0;
}

// ---- rejected events (--events) ---------------------------------------------------------------------------------

// Read a page at a time, so that a full store (queue.max_rejected_events) is never all in memory.
constexpr std::size_t rejected_events_per_page = 1000;

Expected<queue::RejectedEventSelection> rejected_selection(const DeadLetterArgs& args) {
  queue::RejectedEventSelection which;
  which.source = args.source;
  which.limit = static_cast<std::size_t>(args.limit);
  if (!args.since.empty()) {
    auto since = parse_point_in_time(args.since, unix_millis_now());
    if (!since) return tl::unexpected(Error{since.error().code, "--since: " + since.error().message, ""});
    which.since = *since;
  }
  return which;
}

// Calls each_page with the selected events, page by page, oldest first, up to the selection's limit.
template <class EachPage>
Expected<void> for_each_rejected_page(queue::Queue& q, queue::RejectedEventSelection which, EachPage each_page) {
  const std::size_t limit = which.limit;
  std::size_t seen = 0;
  for (;;) {
    which.limit = limit == 0 ? rejected_events_per_page : std::min(rejected_events_per_page, limit - seen);
    if (which.limit == 0) return {};
    auto page = q.rejected_events(which);
    if (!page) return tl::unexpected(page.error());
    if (page->empty()) return {};
    seen += page->size();
    which.after_id = page->back().id;
    if (auto r = each_page(std::move(*page)); !r) return r;
  }
}

int run_list_events(const DeadLetterArgs& args) {
  constexpr std::string_view command = "dead-letter list --events";
  auto which = rejected_selection(args);
  if (!which) return fail(command, which.error().message, exit_usage);
  auto q = open_queue_for_operator(args.queue);
  if (!q) return report_error(command, q.error());
  nlohmann::json listed = nlohmann::json::array();
  auto read = for_each_rejected_page(**q, *which, [&](std::vector<queue::RejectedEvent> page) -> Expected<void> {
    for (const auto& e : page) {
      auto event = nlohmann::json::parse(e.event.event, nullptr, /*allow_exceptions=*/false);
      listed.push_back({{"id", e.id},
                        {"source", e.event.source},
                        {"route", e.event.route},
                        {"reason", e.event.reason},
                        {"rejected_at", iso8601_utc(e.rejected_at)},
                        {"event", event.is_discarded() ? nlohmann::json(e.event.event) : event}});
    }
    return {};
  });
  if (!read) return report_error(command, read.error());
  print_json({{"queue", args.queue.label}, {"count", listed.size()}, {"rejected_events", std::move(listed)}});
  return 0;
}

// Transforms the selected rejected events again with the configuration's sources (by name) and the mappings the
// service would load, and applies the outcomes page by page: what transforms now is enqueued (due at once, the
// running service delivers it) and removed from the store, what still fails keeps its place with the new reason,
// an event whose source is no longer configured is kept as it is. Safe beside the running service, as the dead
// letters' replay: SQLite's WAL lets both write the file, and the service recounts its queue depth on its next
// transaction after another process committed.
int run_replay_events(const DeadLetterArgs& args) {
  constexpr std::string_view command = "dead-letter replay --events";
  auto which = rejected_selection(args);
  if (!which) return fail(command, which.error().message, exit_usage);
  auto cfg = resolve_config(args.where, /*with_sources=*/true);
  if (!cfg) return fail(command, cfg.error().message, exit_usage);
  // Without sources every event would count as one of a source no longer configured: surely a missing --config.
  if (cfg->sources.empty())
    return fail(command, "the configuration has no sources to transform the events with: pass the service's --config FILE",
                exit_usage);
  obs::init_logging(obs::LogOptions{cfg->log.level, cfg->log.format == "json" ? obs::LogFormat::json : obs::LogFormat::text,
                                    cfg->log.log_pii});
  const auto mappings = mappings_location(cfg->mappings_dir, "mappings_dir");
  auto transformer = ometria::Transformer::load(mappings.directory);
  if (!transformer) {
    return fail(command, "cannot load the mappings from " + mappings.directory.string() + ": " + transformer.error().message,
                exit_usage);
  }
  std::map<std::string, const config::SourceConfig*, std::less<>> sources;
  for (const auto& s : cfg->sources) sources.emplace(s.name, &s);

  auto q = open_queue_for_operator(args.queue);
  if (!q) return report_error(command, q.error());
  obs::QueueRejectedEventsReplayed totals;
  std::map<std::string, std::uint64_t> unknown_sources;  // name -> events kept
  std::map<std::string, std::uint64_t> still_failing;  // reason -> events
  auto replayed = for_each_rejected_page(**q, *which, [&](std::vector<queue::RejectedEvent> page) -> Expected<void> {
    std::vector<queue::RejectedEventOutcome> outcomes;
    for (auto& e : page) {
      const auto source = sources.find(e.event.source);
      if (source == sources.end()) {
        ++unknown_sources[e.event.source];
        ++totals.unknown_source;
        continue;
      }
      auto record = protocol::transform_stored_event(e.event.event, *transformer, *source->second);
      queue::RejectedEventOutcome outcome{e.id, std::nullopt, std::nullopt};
      if (!record) {
        outcome.reason = std::move(record.error().message);
        ++still_failing[*outcome.reason];
      } else if (*record) {
        outcome.record = queue::NewRecord{source->second->destination.api_key, (*record)->type, std::move((*record)->json)};
      }
      outcomes.push_back(std::move(outcome));
    }
    auto settled = (*q)->settle_rejected_events(std::move(outcomes));
    if (!settled) return tl::unexpected(settled.error());
    totals.enqueued += settled->enqueued;
    totals.still_rejected += settled->still_rejected;
    totals.skipped += settled->skipped;
    totals.gone += settled->gone;
    return {};
  });
  if (!replayed) return report_error(command, replayed.error());
  obs::emit(totals);
  print_json({{"queue", args.queue.label},
              {"enqueued", totals.enqueued},
              {"still_rejected", totals.still_rejected},
              {"still_rejected_reasons", still_failing},
              {"skipped", totals.skipped},
              {"unknown_sources", unknown_sources},
              {"gone", totals.gone}});
  return 0;
}

// --since and --source select rejected events; --id names dead letters.
std::optional<int> refuse_mixed_options(const DeadLetterArgs& args, std::string_view command) {
  if (args.events && args.ometria_errors)
    return fail(command, "--events and --ometria-errors list different things: give one of them", exit_usage);
  if (args.events && !args.ids.empty())
    return fail(command, "--id names dead letters; select rejected events with --since, --source and --limit", exit_usage);
  if (!args.events && (!args.since.empty() || !args.source.empty()))
    return fail(command, "--since and --source select rejected events: add --events", exit_usage);
  return std::nullopt;
}

int run_list_either(const DeadLetterArgs& args) {
  if (const auto refused = refuse_mixed_options(args, "dead-letter list")) return *refused;
  return args.events ? run_list_events(args) : run_list(args);
}

int run_replay_either(const DeadLetterArgs& args) {
  if (const auto refused = refuse_mixed_options(args, "dead-letter replay")) return *refused;
  return args.events ? run_replay_events(args) : run_replay(args);
}

// Resolves --queue / --config into args.queue.label, then runs the command (exit 2 if the location is unusable).
int with_queue_path(DeadLetterArgs& args, const char* command, int (*run)(const DeadLetterArgs&)) {
  auto target = resolve_queue(args.where);
  if (!target) {
    return fail(command, target.error().message, exit_usage);
  }
  args.queue = std::move(*target);
  return run(args);
}

void add_common_options(CLI::App& cmd, DeadLetterArgs& args, const char* limit_help) {
  add_queue_location_options(cmd, args.where);
  cmd.add_option("--limit", args.limit, limit_help)->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000'000}));
  cmd.add_option("--id", args.ids, "Only these dead-letter ids (see `dead-letter list`)")->default_str("");
}

void add_event_options(CLI::App& cmd, DeadLetterArgs& args, const char* events_help) {
  cmd.add_flag("--events", args.events, events_help);
  cmd.add_option("--since", args.since,
                 "With --events: only those rejected at or after this time (2026-12-01T14:00:00Z, 2026-12-01, or 2h ago)");
  cmd.add_option("--source", args.source, "With --events: only those of this source (its name in the configuration)");
}

}  // namespace

void add_dead_letter_command(CLI::App& app, int& exit_code) {
  auto* dead = app.add_subcommand("dead-letter", "List, replay or purge the records Ometria refused (--events: the events ingest could not transform)");
  dead->require_subcommand(1);

  auto list_args = std::make_shared<DeadLetterArgs>();
  list_args->limit = 100;
  auto* list = dead->add_subcommand("list", "Print dead letters with their reasons (JSON), oldest first");
  add_common_options(*list, *list_args, "At most this many (default 100; 0 = all)");
  add_event_options(*list, *list_args, "List the events ingest could not transform (kept with their reason) instead");
  list->add_flag("--ometria-errors", list_args->ometria_errors,
                 "Instead: what Ometria rejected after accepting a push (GET /v2/push/_errors, read by serve), newest "
                 "first, matched to the records delivery sent where Ometria's entry carries ids");
  list->footer(exit_status_footer("the queue could not be read"));
  list->callback([list_args, &exit_code] { exit_code = with_queue_path(*list_args, "dead-letter list", run_list_either); });

  auto replay_args = std::make_shared<DeadLetterArgs>();
  auto* replay = dead->add_subcommand("replay", "Put dead letters back in the queue (all, or --id ...), oldest first");
  add_common_options(*replay, *replay_args, "At most this many (default 0 = all)");
  add_event_options(*replay, *replay_args,
                    "Transform the events ingest could not transform again, with today's mappings and the sources of "
                    "--config: those that succeed are queued for delivery, the others keep their place (new reason)");
  replay->footer(exit_status_footer("the queue could not be changed, or an --id names no dead letter (then none is replayed)"));
  replay->callback([replay_args, &exit_code] { exit_code = with_queue_path(*replay_args, "dead-letter replay", run_replay_either); });

  auto purge_args = std::make_shared<DeadLetterArgs>();
  auto* purge = dead->add_subcommand("purge", "Delete dead letters for good (--id ... or --all)");
  add_common_options(*purge, *purge_args, "At most this many (default 0 = all)");
  purge->add_flag("--all", purge_args->all, "Purge every dead letter (or the oldest --limit N)");
  purge->footer(exit_status_footer("the queue could not be changed, or an --id names no dead letter (then none is purged)"));
  purge->callback([purge_args, &exit_code] { exit_code = with_queue_path(*purge_args, "dead-letter purge", run_purge); });
}

}  // namespace omt::cli
