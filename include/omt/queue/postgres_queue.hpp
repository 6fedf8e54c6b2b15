// The shared durable queue: PostgreSQL through libpq, so that several instances can use one database (the
// ownership that lets them deliver side by side is still to come: docs/scaling.md). One thread owns the
// connection and runs every operation; enqueues that wait together are written in one transaction (one commit
// answers many callers). Same promises as the SQLite queue (queue.hpp); every statement is timed out, and a lost
// connection is an errc::io error for the operation that met it, with a new connection tried by the next one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "omt/config/config.hpp"
#include "omt/queue/ometria_errors.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue {

struct PostgresQueueOptions {
  std::string url;  // a libpq connection string or URI (config queue.url)
  std::uint64_t high_water_mark = config::QueueConfig{}.high_water_mark;
  std::uint64_t max_rejected_events = config::QueueConfig{}.max_rejected_events;
  std::size_t max_records_per_enqueue = 10'000;
  std::size_t max_pending_operations = 10'000;       // beyond this, operations fail fast (errc::unavailable)
  std::size_t max_records_per_transaction = 20'000;  // group commit stops gathering here
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{10000};  // every statement, on the server and waiting for it here
  std::size_t max_ometria_errors = 10'000;
  // Whose leases this queue takes: a restart under the same name hands that instance's unacked records out again
  // at once (the contract's "leases do not outlive the process"); others' leases run until their time. Empty: the
  // host name. The operator commands pass take_over_leases = false: they open the queue beside a running service.
  std::string lease_owner;
  bool take_over_leases = true;
  std::function<UnixMillis()> clock;  // wall clock in ms; empty = std::chrono::system_clock (tests pass a fake)
};

class PostgresQueue final : public Queue, public OmetriaErrorLog {
 public:
  // Connects, creates or migrates the tables (schema_version), and starts the connection's thread.
  static Expected<std::unique_ptr<PostgresQueue>> open(PostgresQueueOptions options);
  ~PostgresQueue() override;  // finishes every pending operation, then closes

  PostgresQueue(const PostgresQueue&) = delete;
  PostgresQueue& operator=(const PostgresQueue&) = delete;

  OMT_QUEUE_WAITING_FORMS;
  using OmetriaErrorLog::record_ometria_errors;
  using OmetriaErrorLog::ometria_errors;
  using OmetriaErrorLog::ometria_errors_by_key;
  void enqueue(std::vector<NewRecord> records, EnqueueDone done) override;
  void store(IngestWrite write, StoreDone done) override;
  void lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
             std::chrono::milliseconds lease_for, Done<Leased> done) override;
  void ack(const std::vector<RecordId>& ids, Done<std::size_t> done) override;
  void reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay, Done<std::size_t> done) override;
  void dead_letter(const std::vector<RecordId>& ids, const std::string& reason, Done<std::size_t> done) override;
  void hold_key(const std::string& api_key, const std::string& reason, Done<void> done) override;
  void unhold_key(const std::string& api_key, Done<void> done) override;
  void held_keys(Done<std::vector<HeldKey>> done) override;
  void rekey(const std::string& from_key, const std::string& to_key, Done<std::size_t> done) override;
  void release_key(const std::string& api_key, const std::string& reason, Done<std::size_t> done) override;
  void ready_partitions(Done<std::vector<ReadyPartition>> done) override;
  void stats(Done<QueueStats> done) override;
  std::uint64_t depth() const override;
  // Every record here is live: this backend takes no imports yet (the import operations are refused), so the
  // backfill lane is always empty. Lane totals (delivered, dead-lettered) are not kept yet either.
  std::uint64_t lane_depth(Lane lane) const override { return lane == Lane::live ? depth() : 0; }
  std::uint64_t high_water_mark() const override;
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

  // Transactions committed (group commit makes this far smaller than the enqueues).
  std::uint64_t commits() const;

  struct Impl;

 private:
  explicit PostgresQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace omt::queue
