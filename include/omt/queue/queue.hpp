// The durable queue between ingest and delivery, as an interface so that another backend can be added without
// touching delivery. Every operation that reads or writes the store is asynchronous: it completes through a
// callback, so no caller blocks a thread on the store (a waiting form of each is kept for the CLI and tests).
//
// The contract, for every implementation (tests/integration/test_queue_contract.cpp runs it on each backend):
// - Durability: a write (enqueue, store, ack, reschedule, dead-letter, ...) is answered only once it is committed;
//   an enqueue's records survive the process being killed. A record leaves the queue only by ack (after a 2xx) or
//   by moving to the dead-letter store with its reason.
// - Ordering within a partition (api key, type, lane): records are kept oldest first (ids grow with time), and a
//   lease hands them out in id order. The operations one caller submits run in the order submitted, so its acks,
//   reschedules and dead-letters apply in that order.
// - Leases: a leased record is handed to no other lease until it is acked, rescheduled or dead-lettered, or its
//   lease_for runs out. A queue of one process (SQLite): leases do not outlive the process, since the next one
//   takes them over at open, so after a crash or restart every record not acked is leased again (at-least-once).
//   A queue several instances share (PostgreSQL): a dead instance's leases on a key end when another instance takes
//   the key's expired claim over (KeyOwnership: after queue.lease_timeout), a stopping one gives back what it has
//   not pushed, and a lease otherwise lasts its lease_for.
// - Callbacks (Done<T>): each is called exactly once, on the queue's own thread, after the commit for writes; an
//   operation refused before it is queued (too large, queue closed or too busy) is answered at once, on the
//   caller's thread. A callback must be quick, and may start further operations (they are only queued), but must
//   never call a waiting form: that would wait on the very thread that has to answer (it fails instead).
// - What a crash may leave behind: records pushed but not yet acked are pushed again (a delivered record may be
//   delivered twice); an acknowledged enqueue or ack is never lost.
// Events ingest could not transform are kept too, in a bounded rejected-events store, until replayed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::queue {

// How an asynchronous operation answers: once, on the queue's thread (see the contract above).
template <class T>
using Done = std::function<void(Expected<T>)>;

// Marks the calling thread as a queue's own thread while it lives (each backend's thread holds one), so that a
// waiting form called there fails instead of deadlocking.
class QueueThreadMark {
 public:
  QueueThreadMark();
  ~QueueThreadMark();
  QueueThreadMark(const QueueThreadMark&) = delete;
  QueueThreadMark& operator=(const QueueThreadMark&) = delete;
};
bool on_queue_thread();

// The waiting form of an asynchronous operation: start(done) starts it, and this waits for its answer.
template <class T, class Start>
Expected<T> wait_for(std::string_view what, Start start) {
  if (on_queue_thread()) {
    return fail(errc::io, "queue: " + std::string(what) + " called from a queue callback (it would deadlock)");
  }
  // Shared: the queue's thread may still be inside set_value when this thread wakes and returns.
  auto promise = std::make_shared<std::promise<Expected<T>>>();
  auto future = promise->get_future();
  start(Done<T>([promise](Expected<T> result) { promise->set_value(std::move(result)); }));
  return future.get();
}

using RecordId = std::int64_t;
using ometria::RecordType;
// Wall-clock milliseconds since the Unix epoch (times survive restarts, so no steady clock here).
using UnixMillis = std::int64_t;

// Which lane a record travels in. Live records (ingest, replays) are always pushed before backfill records
// (imported history) of the same API key, and backfill gets only the rate budget live traffic leaves; the two
// are counted apart (ingest's slow-down and 429 thresholds count live records only, import.max_queued caps
// the backfill).
enum class Lane : std::uint8_t { live = 0, backfill = 1 };
constexpr std::string_view lane_name(Lane lane) { return lane == Lane::live ? "live" : "backfill"; }

struct NewRecord {
  std::string api_key;
  RecordType type = RecordType::contact;
  std::string json;  // one compact JSON object
  Lane lane = Lane::live;
};

struct QueuedRecord {
  RecordId id = 0;
  std::string api_key;
  RecordType type = RecordType::contact;
  std::string json;
  Lane lane = Lane::live;
  std::uint32_t attempts = 0;  // failed pushes so far
  UnixMillis next_attempt_at = 0;
  UnixMillis created_at = 0;
};

struct DeadRecord {
  QueuedRecord record;
  std::string reason;
  UnixMillis dead_at = 0;
};

// What a lease hands out: records of one (api key, type, lane), oldest first, and whether due records were left
// behind because they did not fit in the number asked for (the caller's batch is as full as it gets for now).
struct Leased {
  std::vector<QueuedRecord> records;
  bool more_due = false;
};

// One (api key, type, lane) with records that are due and not leased, on a key that is not held.
struct ReadyPartition {
  std::string api_key;
  RecordType type = RecordType::contact;
  std::uint64_t ready = 0;
  Lane lane = Lane::live;
};

// One (api key, type, lane): what waits in it, and what ever left it (totals kept across restarts, updated in
// the transaction of the ack or dead-letter itself).
struct PartitionStats {
  std::string api_key;
  RecordType type = RecordType::contact;
  std::uint64_t depth = 0;
  UnixMillis oldest_created_at = 0;  // of the waiting records (0: none waits)
  Lane lane = Lane::live;
  std::uint64_t delivered = 0;      // acked after a 2xx
  std::uint64_t dead_lettered = 0;  // moved to the dead-letter store (pushes refused, released keys, damage)
};

struct HeldKey {
  std::string api_key;
  std::string reason;
  UnixMillis held_at = 0;
};

// One delivery instance of a queue several share (PostgreSQL's delivery_instances and key_owners): when it last
// ran an ownership round, and the API keys it claims.
struct DeliveryInstance {
  std::string instance_id;
  std::optional<UnixMillis> heartbeat_at;  // none: no longer registered (dead; its claims wait for a taker)
  UnixMillis expires_at = 0;               // its registration's end (0: not registered)
  std::vector<std::string> keys;           // its claims, sorted (expired ones included: taken at the next round)
};

struct QueueStats {
  std::vector<PartitionStats> partitions;  // with records waiting, ordered by api key, type, lane
  std::vector<PartitionStats> drained;     // nothing waits, listed for their totals (same order)
  std::uint64_t depth = 0;  // records waiting (leased ones included), every lane
  std::uint64_t dead_letters = 0;
  std::uint64_t rejected_events = 0;
  std::optional<UnixMillis> oldest_created_at;  // of the waiting records
  std::vector<HeldKey> held_keys;
  // Which instance delivers which key, ordered by instance id; none: a queue one instance serves (SQLite), which
  // delivers every key.
  std::optional<std::vector<DeliveryInstance>> instances;
};

// Which dead letters an operation applies to: the given ids, or (ids empty) all of them up to limit (0 = no limit),
// oldest first.
struct DeadLetterSelection {
  std::vector<RecordId> ids;
  std::size_t limit = 0;
};

// ---- rejected events: well-formed events ingest could not transform (a missing e-mail, an unsupported value).
// The client handed them over and was answered 200, so they are kept, bounded, until an operator replays them
// with fixed mappings or settings (`dead-letter replay --events`).

struct NewRejectedEvent {
  std::string source;  // the name of the source it came from (config sources[].name)
  std::string route;   // the path it came in on ("/v1/batch")
  std::string reason;  // why it could not be transformed (the transformer's message)
  std::string event;   // the event's JSON text as it was transformed (a batch's context merged in)
};

struct RejectedEvent {
  RecordId id = 0;  // its own numbering, apart from the records'
  NewRejectedEvent event;
  UnixMillis rejected_at = 0;  // when it was stored (a replay that fails again keeps the time, updates the reason)
};

// Which rejected events an operation applies to: all, or those of one source, stored at or after a time;
// oldest first, up to limit (0 = no limit), after the id after_id (to read page by page).
struct RejectedEventSelection {
  RecordId after_id = 0;
  std::optional<UnixMillis> since;
  std::string source;  // empty: every source
  std::size_t limit = 0;
};

// What one ingest request stores, durable together or not at all: its accepted records and its rejected events.
struct IngestWrite {
  std::vector<NewRecord> records;
  std::vector<NewRejectedEvent> rejected;
};

struct IngestStored {
  std::vector<RecordId> records;       // the records' ids, in order
  std::uint64_t rejected_dropped = 0;  // older rejected events dropped to keep the store within its bound
};

// A replayed rejected event: transformed now into `record` (enqueued, and the event removed), failing again with
// `reason` (the event stays, with this reason), or neither: now skipped, nothing to send (the event removed).
struct RejectedEventOutcome {
  RecordId id = 0;
  std::optional<NewRecord> record;
  std::optional<std::string> reason;
};

struct RejectedEventsSettled {
  std::size_t enqueued = 0;        // became records in the queue
  std::size_t still_rejected = 0;  // failed again; reason updated
  std::size_t skipped = 0;         // now skipped: removed, nothing to send
  std::size_t gone = 0;            // no longer stored (dropped for the bound meanwhile, or replayed by another)
};
// ---- imports: `ometria-transformer import` keeps how far it got in the queue itself, each checkpoint committed in
// the same transaction as the records it covers, so that an import stopped at any moment continues exactly where
// it stopped: nothing enqueued twice, nothing skipped.

using ImportRunId = std::int64_t;

// One input file as the import first saw it: a file that no longer matches is refused on resume.
struct ImportFile {
  std::string path;
  std::uint64_t size = 0;
  std::string head_hash;  // SHA-256 (hex) of its first MiB
};

struct NewImportRun {
  std::string run_key;    // what makes two runs the same import (the source and the inputs as given)
  std::string source;     // the source's name
  std::string arguments;  // the command line's inputs and options, for `import status`
  std::vector<ImportFile> files;  // in reading order; a checkpoint names one by its index here
};

// How far a run is in one file during one pass (the passes go by record type: products, contacts, orders, custom
// events): every item up to `offset` (decompressed bytes) of the file was read in this pass and its records are
// stored. done: the pass is through the file.
struct ImportCheckpoint {
  ImportRunId run_id = 0;
  std::uint32_t file_index = 0;
  std::uint32_t pass = 0;
  std::uint64_t offset = 0;
  std::uint64_t line = 0;     // the last line read, for `import status`
  std::uint64_t records = 0;  // records enqueued by this pass from this file so far
  bool done = false;
  UnixMillis updated_at = 0;  // set by the queue
};

enum class ImportState : std::uint8_t { running, interrupted, finished, superseded };
std::string_view to_string(ImportState state);
std::optional<ImportState> import_state_from(std::string_view name);

struct ImportRun {
  ImportRunId id = 0;
  std::string run_key, source, arguments;
  ImportState state = ImportState::running;
  std::uint64_t records = 0;  // enqueued by the run so far
  UnixMillis started_at = 0, updated_at = 0;
  std::vector<ImportFile> files;
  std::vector<ImportCheckpoint> checkpoints;  // by file, then pass
};

class KeyOwnership;
// How the queue's database is doing, as its own operations and reconnects last found it: kept by the queue as it
// works, so reading it costs no database round trip (/health reads it on every request).
struct QueueHealth {
  enum class State : std::uint8_t { ok, unavailable };
  std::string backend;  // "sqlite", "postgres"; empty: a backend that keeps no health of its own
  State state = State::ok;
  UnixMillis since = 0;  // when this state began (0: not known)
  std::string error;     // unavailable: what the last attempt met (the queue's own words)
  std::uint64_t round_trips = 0;  // answers awaited from a database server since the queue opened (0: SQLite)
};
constexpr std::string_view to_string(QueueHealth::State state) {
  return state == QueueHealth::State::ok ? "ok" : "unavailable";
}

class OmetriaErrorLog;
class RequestLog;

class Queue {
 public:
  using EnqueueDone = std::function<void(Expected<std::vector<RecordId>>)>;
  using StoreDone = std::function<void(Expected<IngestStored>)>;

  virtual ~Queue() = default;

  // Stores the records and calls done once they are durable, with their ids in order; or with the error, in
  // which case none was stored.
  virtual void enqueue(std::vector<NewRecord> records, EnqueueDone done) = 0;
  std::future<Expected<std::vector<RecordId>>> enqueue(std::vector<NewRecord> records);
  // As enqueue, and the rejected events in the same transaction: done is called once both are durable (or with
  // the error, and nothing was stored). The rejected-events store keeps at most its bound; when a write takes
  // it past, the oldest are dropped, and done says how many.
  virtual void store(IngestWrite write, StoreDone done) = 0;
  std::future<Expected<IngestStored>> store(IngestWrite write);

  // Up to max records of (api_key, type, lane) that are due and not leased, oldest first (in id order); they stay
  // invisible to other leases of this queue object for lease_for, or until acked / rescheduled / dead-lettered.
  // Leases do not outlive the process: after a restart every record not acked is handed out again (at-least-once).
  // An implementation may hand out fewer than max while more are due (records stored together are leased
  // together); it then says so in more_due.
  virtual void lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
                     std::chrono::milliseconds lease_for, Done<Leased> done) = 0;
  // Deletes delivered records (and counts them in their partition's delivered total). Answers how many existed.
  virtual void ack(const std::vector<RecordId>& ids, Done<std::size_t> done) = 0;
  // attempts + 1, next attempt after delay, lease released.
  virtual void reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay, Done<std::size_t> done) = 0;
  // Leased records handed back unpushed (their key is held, or another instance delivers it now): lease released,
  // due at once, attempts unchanged (nothing was tried). Answers how many of them were leased.
  virtual void give_back(const std::vector<RecordId>& ids, Done<std::size_t> done) = 0;
  // Moves records to the dead-letter store with the reason (counted in their partition's dead-lettered total).
  // A replayed dead letter comes back in the live lane.
  virtual void dead_letter(const std::vector<RecordId>& ids, const std::string& reason, Done<std::size_t> done) = 0;

  // A held key's records stay stored; ready_partitions leaves them out until unhold.
  virtual void hold_key(const std::string& api_key, const std::string& reason, Done<void> done) = 0;
  virtual void unhold_key(const std::string& api_key, Done<void> done) = 0;
  virtual void held_keys(Done<std::vector<HeldKey>> done) = 0;

  // The operator's way out for records under a key no source has any more (records keep the key they were
  // accepted under: a key names an Ometria account, so a corrected key never moves them by itself).
  // rekey: every waiting record of from_key is now under to_key (same ids, attempts and due times), and a hold
  // on from_key is dropped. Answers how many records moved.
  virtual void rekey(const std::string& from_key, const std::string& to_key, Done<std::size_t> done) = 0;
  // release_key: every waiting record of api_key moves to the dead-letter store with the reason, and a hold on
  // api_key is dropped. Answers how many records moved.
  virtual void release_key(const std::string& api_key, const std::string& reason, Done<std::size_t> done) = 0;

  // The partitions with due records, live ones first, then the oldest first. `ready` counts a partition's due
  // records exactly up to count_up_to (0: no bound) and may stop there: the caller says how many it can use (a
  // scan of a deep queue need not count every due record to learn that a partition has a few pushes' worth).
  virtual void ready_partitions(std::uint64_t count_up_to, Done<std::vector<ReadyPartition>> done) = 0;
  virtual void stats(Done<QueueStats> done) = 0;

  // Records waiting, every lane / one lane (cheap: no database read, so synchronous). Over the high-water mark of
  // live records, ingest answers 429 and stores nothing: backfill never counts there, however large an import is.
  virtual std::uint64_t depth() const = 0;
  virtual std::uint64_t lane_depth(Lane lane) const = 0;
  virtual std::uint64_t high_water_mark() const = 0;
  bool over_high_water() const { return lane_depth(Lane::live) >= high_water_mark(); }

  virtual void dead_letters(const DeadLetterSelection& which, Done<std::vector<DeadRecord>> done) = 0;
  // Puts dead letters back in the queue (same ids, attempts 0, due now). Answers how many.
  virtual void replay(const DeadLetterSelection& which, Done<std::size_t> done) = 0;
  // Deletes dead letters for good. Answers how many.
  virtual void purge(const DeadLetterSelection& which, Done<std::size_t> done) = 0;

  virtual void rejected_events(const RejectedEventSelection& which, Done<std::vector<RejectedEvent>> done) = 0;
  // Applies a replay's outcomes in one transaction: each event still stored becomes its record (enqueued, due
  // now) and is removed, has its reason updated, or (skipped) is removed. An event no longer stored is counted as
  // gone, and its record is not enqueued (so one event never becomes two records).
  virtual void settle_rejected_events(std::vector<RejectedEventOutcome> outcomes, Done<RejectedEventsSettled> done) = 0;
  // Where the errors Ometria lists after accepting pushes are kept (omt/queue/ometria_errors.hpp); nullptr: this
  // backend keeps none, and delivery then does not read them (only kept entries tell a new error from a known one).
  virtual OmetriaErrorLog* ometria_error_log() { return nullptr; }
  // Where every push's outcome is logged (omt/queue/request_log.hpp); nullptr: this backend keeps no request log.
  virtual RequestLog* request_log() { return nullptr; }
  // Which API keys this instance delivers when several share the queue (omt/queue/key_ownership.hpp); nullptr:
  // this backend serves one instance, which owns every key.
  virtual KeyOwnership* key_ownership() { return nullptr; }
  // The database's state (QueueHealth): cheap and thread-safe. The default is a backend with nothing to report.
  virtual QueueHealth health() const { return {}; }

  // ---- imports ---- (a backend that keeps no import checkpoints refuses them all: it cannot take an import)
  // A new run of an import, state running, its files stored (a run with the same key before it is left as it is).
  virtual void start_import_run(NewImportRun run, Done<ImportRun> done);
  // The runs with this key (every run when empty), oldest first, with their files and checkpoints.
  virtual void import_runs(const std::string& run_key, Done<std::vector<ImportRun>> done);
  virtual void set_import_run_state(ImportRunId id, ImportState state, Done<void> done);
  // As enqueue, and the checkpoint in the same transaction: both are durable, or neither is. Records may be
  // empty (a checkpoint only: the end of a file). The run's record count grows by the records.
  virtual void enqueue_import(std::vector<NewRecord> records, ImportCheckpoint checkpoint, EnqueueDone done);
  std::future<Expected<std::vector<RecordId>>> enqueue_import(std::vector<NewRecord> records, ImportCheckpoint checkpoint);

  // ---- the waiting forms (the CLI, the import, tests): each starts its operation and waits for the answer.
  // Never from a queue callback (the queue's own thread): there they fail instead of deadlocking.
  Expected<Leased> lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
                         std::chrono::milliseconds lease_for);
  // The live lane's (ingest's records).
  Expected<Leased> lease(const std::string& api_key, RecordType type, std::size_t max, std::chrono::milliseconds lease_for) {
    return lease(api_key, type, Lane::live, max, lease_for);
  }
  Expected<std::size_t> ack(const std::vector<RecordId>& ids);
  Expected<std::size_t> reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay);
  Expected<std::size_t> give_back(const std::vector<RecordId>& ids);
  Expected<std::size_t> dead_letter(const std::vector<RecordId>& ids, const std::string& reason);
  Expected<void> hold_key(const std::string& api_key, const std::string& reason);
  Expected<void> unhold_key(const std::string& api_key);
  Expected<std::vector<HeldKey>> held_keys();
  Expected<std::size_t> rekey(const std::string& from_key, const std::string& to_key);
  Expected<std::size_t> release_key(const std::string& api_key, const std::string& reason);
  Expected<std::vector<ReadyPartition>> ready_partitions(std::uint64_t count_up_to = 0);
  Expected<QueueStats> stats();
  Expected<std::vector<DeadRecord>> dead_letters(const DeadLetterSelection& which);
  Expected<std::size_t> replay(const DeadLetterSelection& which);
  Expected<std::size_t> purge(const DeadLetterSelection& which);
  Expected<std::vector<RejectedEvent>> rejected_events(const RejectedEventSelection& which);
  Expected<RejectedEventsSettled> settle_rejected_events(std::vector<RejectedEventOutcome> outcomes);
  Expected<ImportRun> start_import_run(NewImportRun run);
  Expected<std::vector<ImportRun>> import_runs(const std::string& run_key);
  Expected<void> set_import_run_state(ImportRunId id, ImportState state);
};

// What an implementation writes to keep the waiting forms visible beside its overrides (C++ hides a base's
// overloads of a name the derived class declares).
#define OMT_QUEUE_WAITING_FORMS                                                                                      \
  using Queue::enqueue;                                                                                              \
  using Queue::store;                                                                                                \
  using Queue::lease;                                                                                                \
  using Queue::ack;                                                                                                  \
  using Queue::reschedule;                                                                                           \
  using Queue::give_back;                                                                                            \
  using Queue::dead_letter;                                                                                          \
  using Queue::hold_key;                                                                                             \
  using Queue::unhold_key;                                                                                           \
  using Queue::held_keys;                                                                                            \
  using Queue::rekey;                                                                                                \
  using Queue::release_key;                                                                                          \
  using Queue::ready_partitions;                                                                                     \
  using Queue::stats;                                                                                                \
  using Queue::dead_letters;                                                                                         \
  using Queue::replay;                                                                                               \
  using Queue::purge;                                                                                                \
  using Queue::rejected_events;                                                                                      \
  using Queue::settle_rejected_events;                                                                               \
  using Queue::start_import_run;                                                                                     \
  using Queue::import_runs;                                                                                          \
  using Queue::set_import_run_state;                                                                                 \
  using Queue::enqueue_import

}  // namespace omt::queue
