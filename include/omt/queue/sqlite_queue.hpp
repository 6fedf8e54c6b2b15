// The embedded durable queue: SQLite in WAL mode with group commit. One writer thread owns the connection and
// runs every operation; concurrent enqueues that arrive while a transaction is being written are gathered
// into the next one, so one fsync serves many callers. Each caller is answered only after that commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "omt/config/config.hpp"
#include "omt/queue/ometria_errors.hpp"
#include "omt/queue/queue.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::queue {

enum class Durability {
  process_crash,  // PRAGMA synchronous=NORMAL: in WAL, a commit survives the process being killed (SIGKILL),
                  // but the last commits can be lost if the machine loses power before the WAL is synced.
  power_loss,     // PRAGMA synchronous=FULL: the WAL is fsynced at every commit; survives power loss too.
};

struct SqliteQueueOptions {
  // The defaults of path and high-water mark are the configuration's (queue section), their one home.
  std::filesystem::path path = config::QueueConfig{}.path;  // its directory is created when missing
  Durability durability = Durability::power_loss;
  std::uint64_t high_water_mark = config::QueueConfig{}.high_water_mark;  // records waiting
  std::uint64_t max_rejected_events = config::QueueConfig{}.max_rejected_events;  // past it the oldest are dropped
  std::size_t max_records_per_enqueue = 10'000;
  std::size_t max_pending_operations = 10'000;       // beyond this, operations fail fast (errc::unavailable)
  std::size_t max_records_per_transaction = 20'000;  // group commit stops gathering here
  std::chrono::milliseconds busy_timeout{5000};      // waiting for another process's lock (e.g. the CLI)
  std::size_t max_ometria_errors = 10'000;           // errors Ometria listed, kept (least recently listed go)
  std::uint64_t max_request_log = config::QueueConfig{}.max_request_log;  // pushes logged; past it the oldest go
  std::size_t max_pending_request_log = 10'000;      // entries waiting for the writer; more are refused (not logged)
  bool create_if_missing = true;                     // false: opening a missing file fails (the CLI)
  // Leases are kept in this process's memory only: a restart hands every unacked record out again at once.
  std::function<UnixMillis()> clock;  // wall clock in ms; empty = std::chrono::system_clock (tests pass a fake)
};

class SqliteQueue final : public Queue, public OmetriaErrorLog, public RequestLog {
 public:
  static Expected<std::unique_ptr<SqliteQueue>> open(SqliteQueueOptions options);
  ~SqliteQueue() override;  // finishes every pending operation, then closes

  SqliteQueue(const SqliteQueue&) = delete;
  SqliteQueue& operator=(const SqliteQueue&) = delete;

  OMT_QUEUE_WAITING_FORMS;
  using OmetriaErrorLog::record_ometria_errors;
  using OmetriaErrorLog::ometria_errors;
  using OmetriaErrorLog::ometria_errors_by_key;
  using RequestLog::logged_requests;
  void enqueue(std::vector<NewRecord> records, EnqueueDone done) override;
  void store(IngestWrite write, StoreDone done) override;
  void lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
             std::chrono::milliseconds lease_for, Done<Leased> done) override;
  void ack(const std::vector<RecordId>& ids, Done<std::size_t> done) override;
  void reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay, Done<std::size_t> done) override;
  void give_back(const std::vector<RecordId>& ids, Done<std::size_t> done) override;
  void dead_letter(const std::vector<RecordId>& ids, const std::string& reason, Done<std::size_t> done) override;
  void hold_key(const std::string& api_key, const std::string& reason, Done<void> done) override;
  void unhold_key(const std::string& api_key, Done<void> done) override;
  void held_keys(Done<std::vector<HeldKey>> done) override;
  void rekey(const std::string& from_key, const std::string& to_key, Done<std::size_t> done) override;
  void release_key(const std::string& api_key, const std::string& reason, Done<std::size_t> done) override;
  void ready_partitions(std::uint64_t count_up_to, Done<std::vector<ReadyPartition>> done) override;
  void stats(Done<QueueStats> done) override;
  std::uint64_t depth() const override;
  std::uint64_t lane_depth(Lane lane) const override;
  std::uint64_t high_water_mark() const override;
  // Unavailable while its transactions fail as a whole (a full disk, an I/O error), until one commits again.
  QueueHealth health() const override;
  void dead_letters(const DeadLetterSelection& which, Done<std::vector<DeadRecord>> done) override;
  void replay(const DeadLetterSelection& which, Done<std::size_t> done) override;
  void purge(const DeadLetterSelection& which, Done<std::size_t> done) override;
  void rejected_events(const RejectedEventSelection& which, Done<std::vector<RejectedEvent>> done) override;
  void settle_rejected_events(std::vector<RejectedEventOutcome> outcomes, Done<RejectedEventsSettled> done) override;
  OmetriaErrorLog* ometria_error_log() override { return this; }
  void record_ometria_errors(const std::string& api_key, const std::vector<delivery::SeenError>& seen,
                             std::int64_t now, Done<std::vector<delivery::SeenError>> done) override;
  void ometria_errors(std::size_t limit, Done<std::vector<StoredOmetriaError>> done) override;
  void ometria_errors_by_key(Done<std::vector<OmetriaErrorsOfKey>> done) override;
  RequestLog* request_log() override { return this; }
  void log_pushes(std::vector<RequestLogEntry> entries, LogDone done) override;
  void logged_requests(const RequestLogSelection& which, Done<std::vector<LoggedRequest>> done) override;
  void start_import_run(NewImportRun run, Done<ImportRun> done) override;
  void import_runs(const std::string& run_key, Done<std::vector<ImportRun>> done) override;
  void set_import_run_state(ImportRunId id, ImportState state, Done<void> done) override;
  void enqueue_import(std::vector<NewRecord> records, ImportCheckpoint checkpoint, EnqueueDone done) override;

  // How many transactions the writer has committed (group commit makes this far smaller than the enqueues).
  std::uint64_t commits() const;

  struct Impl;

 private:
  explicit SqliteQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace omt::queue
