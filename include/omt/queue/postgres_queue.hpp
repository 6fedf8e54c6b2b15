// The shared durable queue: PostgreSQL through libpq, so that several instances can use one database and deliver
// side by side, each API key by the one instance that claims it (KeyOwnership, docs/scaling.md). Three threads,
// each with a connection of its own, run the operations: ingest's (enqueues, imports), delivery's scan for due
// records, and delivery's (the rest); enqueues that wait together are written in one transaction (one commit
// answers many callers). Same promises and features as the SQLite queue (queue.hpp: lanes and their totals,
// imports, the request log); every statement is timed out, and a lost connection is an errc::io error for the
// operation that met it; new connections are then tried with backoff (one attempt per step, told once per
// outage), and operations between attempts fail at once (errc::unavailable).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "omt/config/config.hpp"
#include "omt/queue/key_ownership.hpp"
#include "omt/queue/ometria_errors.hpp"
#include "omt/queue/queue.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::queue {

struct PostgresQueueOptions {
  std::string url;  // a libpq connection string or URI (config queue.url)
  std::uint64_t high_water_mark = config::QueueConfig{}.high_water_mark;
  std::uint64_t max_rejected_events = config::QueueConfig{}.max_rejected_events;
  std::size_t max_records_per_enqueue = 10'000;
  std::size_t max_pending_operations = 10'000;       // beyond this, operations fail fast (errc::unavailable)
  std::size_t max_records_per_transaction = 20'000;  // group commit stops gathering here
  std::chrono::milliseconds connect_timeout{5000};
  // Every statement, on the server and waiting for it here (config queue.statement_timeout).
  std::chrono::milliseconds statement_timeout = config::QueueConfig{}.statement_timeout;
  std::size_t max_ometria_errors = 10'000;
  std::uint64_t max_request_log = config::QueueConfig{}.max_request_log;  // pushes logged; past it the oldest go
  std::size_t max_pending_request_log = 10'000;      // entries waiting for the connection; more are refused (not logged)
  // Whose leases this queue takes: a queue opened under the same name hands that owner's unacked records out again
  // at once (the contract's "leases do not outlive the process"); others' leases run until their time, or until
  // their instance's claims expire and another takes its keys over. Empty: instance_id, unique per process. The
  // operator commands pass take_over_leases = false: they open the queue beside a running service.
  std::string lease_owner;
  bool take_over_leases = true;
  // How long a claim on a key's delivery lasts unless renewed (KeyOwnership; config queue.lease_timeout).
  std::chrono::milliseconds lease_timeout = config::QueueConfig{}.lease_timeout;
  // This process in the claims table; empty: unique_instance_id(lease_owner, or the host name when that is empty,
  // the process id, a random number), e.g. "web-1:4242:9f3a61c0".
  std::string instance_id;
  std::function<UnixMillis()> clock;  // wall clock in ms; empty = std::chrono::system_clock (tests pass a fake)
  // How often the ready scan's connection takes a step towards higher partition floors (partition_floors.hpp):
  // a floor rises at most once in two steps. Tests step at every scan.
  std::chrono::milliseconds partition_floor_step{250};
};

// "name:pid:random" (random as 8 hex digits): readable in the claims table and in the service's log, and
// unique although instances on one host share its name.
std::string unique_instance_id(const std::string& name, long pid, unsigned random);

class PostgresQueue final : public Queue, public OmetriaErrorLog, public RequestLog, public KeyOwnership {
 public:
  // Connects, creates or migrates the tables (schema_version), and starts the three connections' threads.
  static Expected<std::unique_ptr<PostgresQueue>> open(PostgresQueueOptions options);
  ~PostgresQueue() override;  // finishes every pending operation, then closes

  PostgresQueue(const PostgresQueue&) = delete;
  PostgresQueue& operator=(const PostgresQueue&) = delete;

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
  // Counted by this object's own operations, and set to the exact count by stats() (another process's writes
  // show from then on).
  std::uint64_t lane_depth(Lane lane) const override;
  std::uint64_t high_water_mark() const override;
  // Unavailable from a lost connection or a failed connect until a connect succeeds (tried with backoff).
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
  KeyOwnership* key_ownership() override { return this; }
  void refresh_ownership(OwnershipRequest request, RoundDone done) override;
  void resign_ownership(ResignDone done) override;
  std::chrono::milliseconds lease_timeout() const override;
  const std::string& instance_id() const override;

  // Transactions committed (group commit makes this far smaller than the enqueues).
  std::uint64_t commits() const;

  struct Impl;

 private:
  explicit PostgresQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Exclusion of one run (an import) across processes and hosts on one database, as the SQLite queue's lock file
// beside it: a session advisory lock taken on a connection of its own and held while this object lives. The
// server drops it when that connection ends, so it ends with the process, even by SIGKILL.
class PostgresRunLock {
 public:
  // nullptr: another session holds the lock of this name.
  static Expected<std::unique_ptr<PostgresRunLock>> take(const PostgresQueueOptions& options, const std::string& name);
  ~PostgresRunLock();
  PostgresRunLock(const PostgresRunLock&) = delete;
  PostgresRunLock& operator=(const PostgresRunLock&) = delete;

  struct Impl;

 private:
  explicit PostgresRunLock(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace omt::queue
