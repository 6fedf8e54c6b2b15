// `ometria-transformer import FILE... --source NAME [--config FILE]`: a shop's history into the queue's backfill
// lane, which a running `serve` on the same queue delivers after live traffic. Every import first reads all of its
// input once and prints the plan (--dry-run stops there); it starts only when nothing is invalid (or
// --max-bad-records allows it) and every hazard is accepted (--accept NAME). Then it enqueues by type, products
// first, each batch committed with its checkpoint: stopped at any moment and run again with the same arguments,
// it continues where it stopped. `import status` shows each import. docs/import.md walks through it.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/mappings_location.hpp"
#include "cli/queue_cli.hpp"
#include "cli/queue_lanes.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "omt/service/module_options.hpp"
#include "omt/service/open_queue.hpp"
#include "omt/import/event_mapping.hpp"
#include "omt/import/import_run.hpp"
#include "omt/import/plan.hpp"
#include "omt/obs/log.hpp"

namespace omt::cli {

namespace {

constexpr std::string_view kCommand = "import";
using import::short_count;
using import::with_commas;


struct ImportArgs {
  QueueLocation where;
  std::vector<std::string> inputs;
  std::string source;
  std::string format;  // empty: detect
  std::string csv_type;   // --type: the records a CSV file's rows are
  std::string csv_table;  // --csv-table NAME|FILE; empty: detected from the header
  bool dry_run = false;
  std::vector<std::string> accept;
  std::int64_t max_bad_records = 0;
  bool again = false;
  bool send_default_optin = false;
  bool quiet = false;
  bool json = false;
};

// Ctrl-C (and SIGTERM): stop reading, commit what is pending. A second one ends the process at once.
std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int signal_number) {
  stop_requested.store(true);
  ::signal(signal_number, SIG_DFL);
}
void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// The progress on stderr: on a terminal one line redrawn in place (fitted to the terminal's width: a line that
// wraps cannot be redrawn, it scrolls), otherwise a plain line every few seconds.
class ProgressLine {
 public:
  ProgressLine(bool quiet, std::uint64_t total_records)
      : quiet_(quiet),
        tty_(isatty(STDERR_FILENO) != 0),
        total_(total_records),
        started_(std::chrono::steady_clock::now()),
        last_drawn_(started_) {}

  void planning(std::uint64_t items) {
    if (quiet_ || !due()) return;
    draw("planning: " + with_commas(items) + " items read");
  }

  void update(const import::Progress& p, std::uint64_t queued_at_start, bool force = false) {
    last_ = p;
    queued_at_start_ = queued_at_start;
    // The first wait for the lane is shown at once, whatever the cadence: it says why the import slows down.
    if (p.waiting_for_lane && !told_waiting_) force = told_waiting_ = true;
    if (quiet_ || (!force && !due())) return;
    draw_progress(p);
  }

  void finish() {
    if (quiet_ || !drawn_) return;
    // The line left on the terminal says where the import ended, not where it was at the last redraw.
    if (tty_ && last_) draw_progress(*last_);
    if (tty_) std::cerr << "\n";
    drawn_ = false;
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

 private:
  // The figures first, so that they keep their place while the waiting note comes and goes. Compact: the same
  // figures in fewer columns, for a terminal too narrow for the full line: counts from ten thousand up in three
  // digits (71.0k, 1.20M), so that 80 columns hold an import of millions.
  std::string progress_text(const import::Progress& p, bool compact = false) const {
    const double elapsed = seconds();
    const std::uint64_t now_queued = p.queued - queued_at_start_;
    const double rate = elapsed > 0 ? static_cast<double>(now_queued) / elapsed : 0;
    const std::string_view sep = compact ? " " : ", ";
    const auto count = [compact](std::uint64_t n) { return compact ? short_count(n) : with_commas(n); };
    std::string line = std::string(ometria::to_string(import::pass_types[p.pass])) + (compact ? ": read " : " pass: read ") +
                       count(p.read);
    line += std::string(sep) + "queued " + count(p.queued) + "/" + count(total_);
    line += std::string(sep) + "delivered " + (p.delivered ? count(*p.delivered) : std::string("?"));
    line += std::string(sep) + count(static_cast<std::uint64_t>(rate)) + (compact ? "/s" : " records/s");
    if (rate > 0 && total_ > p.queued)
      line += std::string(sep) + "ETA " + import::format_duration(static_cast<double>(total_ - p.queued) / rate);
    line += std::string(sep) + "errors " + with_commas(p.errors);
    if (p.waiting_for_lane) line += compact ? "; waiting: lane full" : "; waiting: backfill lane full (import.max_queued)";
    return line;
  }
  bool due() {
    const auto now = std::chrono::steady_clock::now();
    const auto every = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
    // The first line after one interval: a short import shows none.
    if (now - last_drawn_ < every) return false;
    last_drawn_ = now;
    return true;
  }
  void draw_progress(const import::Progress& p) {
    std::string line = progress_text(p);
    if (tty_ && line.size() >= columns()) line = progress_text(p, /*compact=*/true);
    draw(line);
  }
  void draw(const std::string& line) {
    if (tty_) std::cerr << "\r\033[K" << line.substr(0, columns() - 1) << std::flush;
    else std::cerr << line << "\n";
    drawn_ = true;
  }
  // The terminal's width: a drawing stops short of the last column, so that the cursor never moves to a next row.
  // Asked at every drawing, the terminal may be resized. (The text is ASCII: a byte is a column.)
  static std::size_t columns() {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col < 2) return std::string::npos;
    return size.ws_col;
  }

  bool quiet_, tty_;
  std::uint64_t total_;
  std::uint64_t queued_at_start_ = 0;
  std::chrono::steady_clock::time_point started_, last_drawn_;
  bool drawn_ = false;
  bool told_waiting_ = false;
  std::optional<import::Progress> last_;
};

// Where the plan pass keeps its records for the passes (import/record_spill.hpp): beside the SQLite queue (the disk
// the import writes to anyway), or in the temporary folder for PostgreSQL (whose disk is another host's). One
// folder per run key (the run lock keeps a second process out of it), made anew for owner only (the records hold
// contacts' data), whatever a process killed with SIGKILL left there removed first, and removed again when the
// import ends. None when it cannot be made: the passes then transform again.
std::filesystem::path spill_folder_of(const config::Config& config, const std::string& run_key) {
  const std::string name = ".import-spill-" + run_key.substr(0, 16);
  if (config.queue.backend != "postgres") return config.queue.path.string() + name;
  std::error_code ec;
  const auto temp = std::filesystem::temp_directory_path(ec);
  return ec ? std::filesystem::path() : temp / ("ometria-transformer" + name);
}

class SpillFolder {
 public:
  explicit SpillFolder(std::filesystem::path path) : path_(std::move(path)) {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (::mkdir(path_.c_str(), 0700) != 0) {
      why_not_ = "cannot make " + path_.string() + ": " + std::strerror(errno);
      path_.clear();
    }
  }
  ~SpillFolder() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  SpillFolder(const SpillFolder&) = delete;
  SpillFolder& operator=(const SpillFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }
  const std::string& why_not() const { return why_not_; }

 private:
  std::filesystem::path path_;
  std::string why_not_;
};

// Held while an import runs, so that a second process with the same arguments cannot resume the same run at the
// same time (both would enqueue the same records). flock, or on PostgreSQL a session advisory lock (another host may
// import into the same database): released when the process ends, even by SIGKILL.
class RunLock {
 public:
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // False when another process holds it.
  Expected<bool> take(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return fail(errc::io, path + ": cannot open the import's lock file");
    return ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }
  Expected<bool> take(const config::Config& config, const std::string& run_key) {
    if (config.queue.backend != "postgres")
      return take(config.queue.path.string() + ".import-" + run_key.substr(0, 16) + ".lock");
    auto taken = queue::PostgresRunLock::take(service::postgres_queue_options(config), "import " + run_key);
    if (!taken) return tl::unexpected(taken.error());
    postgres_ = std::move(*taken);
    return postgres_ != nullptr;
  }

 private:
  int fd_ = -1;
  std::unique_ptr<queue::PostgresRunLock> postgres_;
};

nlohmann::json place_json(const import::SourcePlace& at) { return {{"file", at.file}, {"line", at.line}}; }

nlohmann::json plan_json(const import::Plan& plan) {
  nlohmann::json records = nlohmann::json::object();
  for (std::size_t i = 0; i < import::pass_count; ++i) records[std::string(ometria::to_string(import::pass_types[i]))] = plan.records[i];
  nlohmann::json bad = nlohmann::json::array();
  for (const auto& row : plan.listed_bad_rows)
    bad.push_back({{"file", row.at.file}, {"line", row.at.line}, {"field", row.field}, {"reason", row.reason}});
  nlohmann::json hazards = nlohmann::json::array();
  for (const auto& h : plan.hazards) {
    nlohmann::json entry = {{"name", import::hazard_name(h.hazard)}, {"records", h.records}, {"detail", h.detail}};
    if (h.first) entry["first"] = place_json(*h.first);
    hazards.push_back(std::move(entry));
  }
  return {{"items", plan.items},
          {"records", std::move(records)},
          {"total_records", plan.total_records()},
          {"skipped", plan.skipped},
          {"bad_rows", plan.bad_rows},
          {"listed_bad_rows", std::move(bad)},
          {"hazards", std::move(hazards)},
          {"pushes", plan.pushes},
          {"delivery_seconds", plan.delivery_seconds ? nlohmann::json(*plan.delivery_seconds) : nlohmann::json(nullptr)}};
}

std::string describe_inputs(const std::vector<std::string>& inputs) {
  std::string out;
  for (const auto& i : inputs) out += (out.empty() ? "" : ", ") + i;
  return out;
}

int run_import(const ImportArgs& args) {
  // Options first: nothing is read before they are all usable.
  std::optional<import::InputFormat> format;
  if (!args.format.empty()) {
    format = import::input_format_from(args.format);
    if (!format) return fail(kCommand, "--format: expected events, records or csv, got \"" + args.format + "\"", exit_usage);
  }
  std::vector<import::Hazard> accepted;
  for (const auto& name : args.accept) {
    const auto hazard = import::hazard_from(name);
    if (!hazard) {
      std::string names;
      for (auto h : import::all_hazards) names += (names.empty() ? "" : ", ") + std::string(import::hazard_name(h));
      return fail(kCommand, "--accept: no hazard named \"" + name + "\" (the hazards: " + names + ")", exit_usage);
    }
    accepted.push_back(*hazard);
  }
  auto cfg = resolve_config(args.where, /*with_sources=*/true);
  if (!cfg) return fail(kCommand, cfg.error().message, exit_usage);
  const config::SourceConfig* source = nullptr;
  std::string names;
  for (const auto& s : cfg->sources) {
    if (s.name == args.source) source = &s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  if (source == nullptr)
    return fail(kCommand, "no source named \"" + args.source + "\" in the configuration (" +
                              (names.empty() ? "it has none: pass the service's --config FILE" : "its sources: " + names) + ")",
                exit_usage);
  obs::init_logging(obs::LogOptions{cfg->log.level, cfg->log.format == "json" ? obs::LogFormat::json : obs::LogFormat::text,
                                    cfg->log.log_pii});
  const auto mappings = mappings_location(cfg->mappings_dir, "mappings_dir");
  auto transformer = ometria::Transformer::load(mappings.directory);
  if (!transformer)
    return fail(kCommand, "cannot load the mappings from " + mappings.directory.string() + ": " + transformer.error().message, exit_usage);
  auto inputs = import::resolve_inputs(args.inputs, format);
  if (!inputs) return fail(kCommand, inputs.error().message, exit_usage);
  if (inputs->empty()) return fail(kCommand, "no input files in " + describe_inputs(args.inputs), exit_usage);
  // CSV files: the tables of mappings/import/ (loaded and checked once), the type and the table to read them.
  import::CsvTables csv_tables;
  const bool any_csv = std::any_of(inputs->begin(), inputs->end(), [](const auto& i) { return i.format == import::InputFormat::csv; });
  if (!any_csv && (!args.csv_type.empty() || !args.csv_table.empty()))
    return fail(kCommand, "--type and --csv-table apply to CSV input only, and no input is CSV", exit_usage);
  if (any_csv) {
    const auto type = ometria::record_type_from(args.csv_type);
    if (args.csv_type.empty() || !type || *type == ometria::RecordType::custom_event)
      return fail(kCommand, "--type: CSV input needs --type contact, order or product (the records its rows are)" +
                                (args.csv_type.empty() ? std::string() : ", not \"" + args.csv_type + "\""),
                  exit_usage);
    auto tables = import::CsvTables::load(mappings.directory / "import");
    if (!tables) return fail(kCommand, "cannot load the CSV tables: " + tables.error().message, exit_usage);
    csv_tables = std::move(*tables);
    auto choice = std::make_shared<import::CsvTableChoice>();
    choice->type = *type;
    choice->detect_among = &csv_tables;
    if (!args.csv_table.empty()) {
      auto table = csv_tables.resolve(args.csv_table);
      if (!table) return fail(kCommand, "--csv-table: " + table.error().message, exit_usage);
      choice->table = std::move(*table);
    }
    for (auto& input : *inputs)
      if (input.format == import::InputFormat::csv) input.csv = choice;
  }
  std::vector<queue::ImportFile> identities;
  for (const auto& input : *inputs) identities.push_back(input.identity);
  // Another --type or --csv-table reads the same files as other records: another import.
  const std::string csv_options =
      args.csv_type.empty() && args.csv_table.empty() ? std::string() : "type=" + args.csv_type + " table=" + args.csv_table;
  const std::string run_key = import::run_key_of(source->name, args.inputs, format, args.send_default_optin, csv_options);

  // Whether this is a new run, a resumed one, or done already: known before the input is read.
  const OperatorQueue target = operator_queue_of(args.where, *cfg);
  std::unique_ptr<queue::Queue> q;
  RunLock lock;
  import::RunChoice choice;
  if (!args.dry_run) {
    // On PostgreSQL beside a running service: the import takes none of this host's leases over.
    auto opened = service::open_queue(target.config, target.config.queue.backend == "postgres"
                                                         ? service::QueueUse::operator_command
                                                         : service::QueueUse::service);
    if (!opened) return report_error(kCommand, opened.error());
    q = std::move(*opened);
    auto locked = lock.take(target.config, run_key);
    if (!locked) return report_error(kCommand, locked.error());
    if (!*locked) return fail(kCommand, "this import is already running in another process (same inputs and source)", exit_usage);
    auto runs = q->import_runs(run_key);
    if (!runs) return report_error(kCommand, runs.error());
    choice = import::choose_run(*runs, identities, args.again);
    if (choice.kind == import::RunChoice::Kind::already_imported) {
      if (args.json) print_json({{"state", "already_imported"}, {"run", choice.run->id}, {"queued", choice.run->records}});
      else std::cout << describe_inputs(args.inputs) << ": " << choice.message << "\n";
      return exit_ok;
    }
    if (choice.kind == import::RunChoice::Kind::refused) return fail(kCommand, choice.message, exit_usage);
  }

  install_stop_handlers();
  import::EventMapper mapper(*transformer, import::import_source(*source, args.send_default_optin));
  ProgressLine planning_line(args.quiet, 0);
  const SpillFolder spill(args.dry_run ? std::filesystem::path() : spill_folder_of(target.config, run_key));
  auto planned = import::plan_inputs(
      *inputs, mapper, unix_millis_now(), cfg->delivery.rate_limit.requests_per_second, [] { return stop_requested.load(); },
      [&](std::uint64_t items) { planning_line.planning(items); }, 0, spill.path());
  planning_line.finish();
  if (!planned) return fail(kCommand, planned.error().message, exit_usage);
  if (const std::string& why = spill.why_not().empty() ? planned->spill_given_up_because : spill.why_not(); !why.empty())
    std::cerr << "ometria-transformer " << kCommand << ": the plan's records are not kept for the passes (" << why << "): they transform the input again\n";
  if (planned->interrupted) return fail(kCommand, "interrupted while planning; nothing was imported", exit_failed);
  const import::Plan& plan = planned->plan;
  const import::Decision decision = import::decide(plan, accepted, static_cast<std::uint64_t>(args.max_bad_records));
  if (!args.json) std::cout << import::format_plan(plan, describe_inputs(args.inputs)) << std::flush;

  if (args.dry_run || !decision.may_start) {
    if (args.json) {
      print_json({{"state", args.dry_run ? "dry_run" : "refused"},
                  {"may_start", decision.may_start},
                  {"refusals", decision.refusals},
                  {"plan", plan_json(plan)}});
    } else if (args.dry_run) {
      std::cout << (decision.may_start ? "Dry run: the import would start.\n" : "Dry run: the import would be refused:\n");
      for (const auto& r : decision.refusals) std::cout << "  " << r << "\n";
    }
    if (args.dry_run) return exit_ok;
    for (const auto& r : decision.refusals) fail(kCommand, "refused: " + r, exit_usage);
    return exit_usage;
  }

  // Start or resume.
  queue::ImportRun run;
  if (choice.kind == import::RunChoice::Kind::resume) {
    run = *choice.run;
    if (auto r = q->set_import_run_state(run.id, queue::ImportState::running); !r) return report_error(kCommand, r.error());
    if (!args.json) std::cout << "Resuming import run " << run.id << " (" << with_commas(run.records) << " records queued before)\n";
  } else {
    for (auto id : choice.superseded)
      if (auto r = q->set_import_run_state(id, queue::ImportState::superseded); !r) return report_error(kCommand, r.error());
    nlohmann::json arguments = {{"inputs", args.inputs},
                                {"format", args.format.empty() ? "auto" : args.format},
                                {"send_default_optin", args.send_default_optin}};
    auto started = q->start_import_run(queue::NewImportRun{run_key, source->name, arguments.dump(), identities});
    if (!started) return report_error(kCommand, started.error());
    run = std::move(*started);
    if (!args.json) std::cout << "Starting import run " << run.id << "\n";
  }

  ProgressLine line(args.quiet, plan.total_records());
  import::ImportContext context;
  context.queue = q.get();
  context.mapper = &mapper;
  context.api_key = source->destination.api_key;
  context.max_queued = cfg->import.max_queued;
  context.stop_requested = [] { return stop_requested.load(); };
  context.on_progress = [&](const import::Progress& p) { line.update(p, run.records); };
  context.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  context.now_unix_ms = [] { return unix_millis_now(); };
  auto totals = import::run_passes(context, run, *inputs, *planned);
  line.finish();
  if (!totals) {
    (void)q->set_import_run_state(run.id, queue::ImportState::interrupted);
    return fail(kCommand, totals.error().message + "; run again to continue", exit_failed);
  }
  const auto state = totals->interrupted ? queue::ImportState::interrupted : queue::ImportState::finished;
  if (auto r = q->set_import_run_state(run.id, state); !r) return report_error(kCommand, r.error());

  const double elapsed = line.seconds();
  if (args.json) {
    print_json({{"state", queue::to_string(state)},
                {"run", run.id},
                {"source", source->name},
                {"files", inputs->size()},
                {"queued", totals->queued},
                {"queued_now", totals->queued_now},
                {"delivered", totals->delivered ? nlohmann::json(*totals->delivered) : nlohmann::json(nullptr)},
                {"elapsed_seconds", elapsed},
                {"plan", plan_json(plan)}});
  } else {
    std::cout << (totals->interrupted ? "Interrupted" : "Imported") << ": " << with_commas(totals->queued) << " of "
              << with_commas(plan.total_records()) << " records queued in the backfill lane (" << with_commas(totals->queued_now)
              << " by this run, in " << import::format_duration(elapsed) << ")";
    if (totals->delivered) std::cout << ", " << with_commas(*totals->delivered) << " delivered so far";
    std::cout << "\n";
    if (!totals->interrupted) std::cout << "`serve` on this queue delivers them after live traffic; `import status` shows the run.\n";
  }
  if (totals->interrupted) return fail(kCommand, "interrupted; run again to continue", exit_failed);
  return exit_ok;
}

// ---- import status ----

int run_status(const QueueLocation& where, bool json) {
  constexpr std::string_view command = "import status";
  auto target = resolve_queue(where);
  if (!target) return fail(command, target.error().message, exit_usage);
  auto q = open_queue_for_operator(*target);
  if (!q) return report_error(command, q.error());
  auto runs = (*q)->import_runs("");
  if (!runs) return report_error(command, runs.error());
  nlohmann::json out = {{"queue", target->label}, {"imports", nlohmann::json::array()}};
  for (const auto& run : *runs) {
    nlohmann::json files = nlohmann::json::array();
    std::size_t files_done = 0;
    for (std::size_t i = 0; i < run.files.size(); ++i) {
      // The file's position: its latest pass with a checkpoint.
      const queue::ImportCheckpoint* latest = nullptr;
      std::size_t passes_done = 0;
      for (const auto& c : run.checkpoints) {
        if (c.file_index != i) continue;
        latest = &c;
        if (c.done) ++passes_done;
      }
      if (passes_done == import::pass_count) ++files_done;
      nlohmann::json position = nullptr;
      if (latest)
        position = {{"pass", ometria::to_string(import::pass_types[std::min<std::size_t>(latest->pass, import::pass_count - 1)])},
                    {"offset", latest->offset},
                    {"line", latest->line},
                    {"done", latest->done}};
      files.push_back({{"path", run.files[i].path},
                       {"size", run.files[i].size},
                       {"passes_done", passes_done},
                       {"position", std::move(position)}});
    }
    auto arguments = nlohmann::json::parse(run.arguments, nullptr, /*allow_exceptions=*/false);
    out["imports"].push_back({{"run", run.id},
                              {"source", run.source},
                              {"state", queue::to_string(run.state)},
                              {"records", run.records},
                              {"files_done", files_done},
                              {"started_at", iso8601_utc(run.started_at)},
                              {"updated_at", iso8601_utc(run.updated_at)},
                              {"arguments", arguments.is_discarded() ? nlohmann::json(run.arguments) : arguments},
                              {"files", std::move(files)}});
  }
  // Seed 004's "records amount in the export queue": per key (named by its sources), type and lane, the records
  // waiting, delivered and dead-lettered (the queue's lane totals, kept across restarts).
  auto stats = (*q)->stats();
  if (!stats) return report_error(command, stats.error());
  const KeySourceNames source_of(where);
  const auto now = unix_millis_now();
  out["lanes"] = nlohmann::json::array();
  for (const auto& lane : all_lanes(*stats)) out["lanes"].push_back(lane_json(lane, source_of(lane.api_key), now));
  if (json) {
    print_json(out);
    return exit_ok;
  }
  if (runs->empty()) std::cout << "No imports in " << target->label << "\n";
  for (const auto& i : out["imports"]) {
    std::cout << "run " << i["run"].get<std::int64_t>() << "  " << i["state"].get<std::string>() << "  source "
              << i["source"].get<std::string>() << "  " << with_commas(i["records"].get<std::uint64_t>()) << " records queued  "
              << i["files_done"].get<std::size_t>() << "/" << i["files"].size() << " files done  (started "
              << i["started_at"].get<std::string>() << ", updated " << i["updated_at"].get<std::string>() << ")\n";
    for (const auto& f : i["files"]) {
      std::cout << "  " << f["path"].get<std::string>() << ": ";
      if (f["position"].is_null()) std::cout << "not begun\n";
      else if (f["passes_done"].get<std::size_t>() == import::pass_count) std::cout << "done\n";
      else
        std::cout << f["position"]["pass"].get<std::string>() << " pass, line " << f["position"]["line"].get<std::uint64_t>()
                  << (f["position"]["done"].get<bool>() ? " (pass done)" : "") << "\n";
    }
  }
  if (!out["lanes"].empty()) std::cout << "Records in the queue, per key, type and lane (waiting, delivered, dead-lettered):\n";
  for (const auto& l : out["lanes"]) {
    std::cout << "  " << l["key"].get<std::string>() << " (" << l["source"].get<std::string>() << ")  "
              << l["type"].get<std::string>() << "  " << l["lane"].get<std::string>() << ": "
              << with_commas(l["depth"].get<std::uint64_t>()) << " waiting, " << with_commas(l["delivered"].get<std::uint64_t>())
              << " delivered, " << with_commas(l["dead_lettered"].get<std::uint64_t>()) << " dead-lettered\n";
  }
  return exit_ok;
}

}  // namespace

void add_import_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand(
      "import", "Import a shop's history (JSON Lines of events or Ometria records, or CSV exports; plain or gzip; folders walked) into the "
                "queue's backfill lane; a running serve delivers it after live traffic");
  cmd->add_option("inputs", args->inputs, "Input files or folders (RudderStack's event archive: walked recursively, sorted)");
  cmd->add_option("--source", args->source, "The source (its name in the configuration) whose mapping and API key the import uses");
  add_queue_location_options(*cmd, args->where);
  cmd->add_option("--format", args->format, "events | records | csv (default: detected per file)");
  cmd->add_option("--type", args->csv_type, "CSV input: the records its rows are (contact, order or product)");
  cmd->add_option("--csv-table", args->csv_table,
                  "CSV input: the table of mappings/import/ that reads it (a name, or a table FILE of your own); default: "
                  "the one whose headers the file has");
  cmd->add_flag("--dry-run", args->dry_run, "Read everything and print the plan; enqueue nothing");
  cmd->add_option("--accept", args->accept,
                  "Go ahead despite this hazard (repeatable): optin-without-timestamp, one-optin-for-all, old-custom-events");
  cmd->add_option("--max-bad-records", args->max_bad_records, "Import even with up to N invalid rows (they are left out)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
  cmd->add_flag("--again", args->again, "Import again from the start even though a run of these inputs finished");
  cmd->add_flag("--send-default-optin", args->send_default_optin,
                "Send the source's configured marketing_optin to contacts that carry none (by default an import sends only "
                "the opt-in the data carries)");
  cmd->add_flag("--quiet", args->quiet, "No progress line");
  cmd->add_flag("--json", args->json, "Print the plan and the summary as JSON");
  cmd->footer(exit_status_footer("the import stopped before it finished (interrupted, or a queue or read error): run it again to continue"));

  auto status_where = std::make_shared<QueueLocation>();
  auto status_json = std::make_shared<bool>(false);
  auto* status = cmd->add_subcommand("status", "Show each import in the queue: its files, how far it is, its state");
  add_queue_location_options(*status, *status_where);
  status->add_flag("--json", *status_json, "As JSON");
  status->footer(exit_status_footer("the queue could not be read"));
  status->callback([status_where, status_json, &exit_code] { exit_code = run_status(*status_where, *status_json); });

  cmd->callback([cmd, status, args, &exit_code] {
    if (cmd->got_subcommand(status)) return;
    if (args->inputs.empty()) {
      exit_code = fail(kCommand, "name the files or folders to import (or `import status`)", exit_usage);
      return;
    }
    if (args->source.empty()) {
      exit_code = fail(kCommand, "--source NAME is required: the source whose mapping and API key the import uses", exit_usage);
      return;
    }
    exit_code = run_import(*args);
  });
}

}  // namespace omt::cli
