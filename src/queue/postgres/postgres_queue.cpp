// The PostgreSQL queue's operations. Three workers, each a thread with a connection of its own (as the SQLite
// queue's writer owns its file): ingest's (enqueues and the other writes of new records), delivery's scan for due
// records, and delivery's (everything else), so that a commit of one never waits behind another's statements. Callers queue tasks and
// are answered through their callbacks on the worker's thread, in the order they came to that worker. Enqueues
// that queue up together share one transaction and one commit (group commit, their records in one INSERT), as do
// delivery's calls (lease, ack, reschedule, dead-letter, the request log), whatever their partitions; every
// other operation is a transaction of its own. Records are rows, not chunks. A lease is a row of record_leases
// (the ids it took, until when, whose), written once per lease instead of once per record; a partition's leases
// are taken under a transaction-scoped advisory lock of that partition, so instances that share the table never
// hand out the same record twice. Delivery's statements are prepared once per connection.
#include "omt/queue/postgres_queue.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>

#include "connection.hpp"
#include "import_store.hpp"
#include "lane_store.hpp"
#include "partition_floors.hpp"
#include "key_owners.hpp"
#include "omt/obs/database_events.hpp"
#include "omt/obs/queue_events.hpp"
#include "omt/ometria/push_api.hpp"
#include "ometria_error_store.hpp"
#include "request_log_store.hpp"
#include "schema.hpp"
#include "upkeep.hpp"
#include "../completion.hpp"
#include "../write_checks.hpp"

namespace omt::queue {

using postgres::Connection;
using postgres::CountedAs;
using postgres::Params;
using postgres::Result;

namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "ometria-transformer";
  return name;
}

}  // namespace

std::string unique_instance_id(const std::string& name, long pid, unsigned random) {
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", random);
  return name + ":" + std::to_string(pid) + ":" + suffix;
}

namespace {

Params& add_limit(Params& p, std::size_t limit) {
  if (limit == 0) return p.add_null();  // LIMIT NULL: no limit
  return p.add(static_cast<std::int64_t>(limit));
}

// The dead letters a selection names, as a condition on dead_letters.id using $1.
std::string dead_letter_condition(const DeadLetterSelection& which, Params& p) {
  if (!which.ids.empty()) {
    p.add_array(std::vector<std::int64_t>(which.ids.begin(), which.ids.end()));
    return "id = ANY($1::bigint[])";
  }
  add_limit(p, which.limit);
  return "id IN (SELECT id FROM dead_letters ORDER BY id LIMIT $1)";
}

// Ends the leases on the records $1 names (a bigint[], ascending: see sorted_ids), which lie in the partitions
// `partitions` lists (a CTE of api_key, type, lane defined before these): a lease of none but them goes, a lease of
// others as well keeps those others. Two CTEs for a statement that changes the records; they touch disjoint rows.
// PostgreSQL compares arrays element against element (n times m, 10,000 comparisons for two pushes' ids, and a
// sequential scan of the leases orders its tests by their cost, not as written): CASE makes it compare the arrays
// only of the partitions' own leases whose bounds overlap, and the common case, an ack of exactly what one lease
// took, is one equality.
std::string end_leases(std::string_view partitions) {
  const std::string may_hold_ids =
      "first_id <= ($1::bigint[])[cardinality($1::bigint[])] AND last_id >= ($1::bigint[])[1]"
      " AND (api_key, type, lane) IN (SELECT api_key, type, lane FROM " + std::string(partitions) + ")";
  const std::string only_these = "(record_ids = $1::bigint[] OR record_ids <@ $1::bigint[])";
  return "ended AS (DELETE FROM record_leases WHERE CASE WHEN " + may_hold_ids + " THEN " + only_these +
         " ELSE false END),"
         " trimmed AS (UPDATE record_leases SET record_ids = ARRAY(SELECT x FROM unnest(record_ids) x"
         "   WHERE x <> ALL($1::bigint[]) ORDER BY x)"
         "   WHERE CASE WHEN " + may_hold_ids + " THEN record_ids && $1::bigint[] AND NOT " + only_these +
         " ELSE false END)";
}

// The ids a statement with end_leases is given: ascending, as its bounds test reads them.
std::vector<std::int64_t> sorted_ids(const std::vector<RecordId>& ids) {
  std::vector<std::int64_t> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

// The advisory lock a lease of one (api key, type, lane) takes for the rest of its transaction: two-key locks are a
// key space of their own (the migrations' lock is a one-key lock), the first key names the queue's partitions.
constexpr const char* kLockPartition =
    "SELECT pg_try_advisory_xact_lock(73054812, hashtext($1 || E'\\n' || $2 || E'\\n' || $3::text))";

constexpr const char* kDeadLetterUpsert =
    " ON CONFLICT (id) DO UPDATE SET api_key = EXCLUDED.api_key, type = EXCLUDED.type, lane = EXCLUDED.lane,"
    " json = EXCLUDED.json, attempts = EXCLUDED.attempts, created_at = EXCLUDED.created_at,"
    " reason = EXCLUDED.reason, dead_at = EXCLUDED.dead_at";

// Delivery's calls one transaction takes at most: enough for every push in flight to end in one commit.
constexpr std::size_t kMaxCallsPerGroup = 64;

// A counter of records waiting changed by delta, never below zero (another process may have taken some meanwhile).
void add_clamped(std::atomic<std::uint64_t>& counter, std::int64_t delta) {
  if (delta >= 0) {
    counter.fetch_add(static_cast<std::uint64_t>(delta), std::memory_order_relaxed);
    return;
  }
  const auto drop = static_cast<std::uint64_t>(-delta);
  std::uint64_t current = counter.load(std::memory_order_relaxed);
  while (!counter.compare_exchange_weak(current, current >= drop ? current - drop : 0, std::memory_order_relaxed)) {
  }
}

}  // namespace

struct PostgresQueue::Impl {
  // An operation run in a transaction of its own; `delta` is how it changes the records waiting.
  struct Call {
    std::string what;  // names the operation in its errors
    std::function<Expected<void>(Connection& db, std::int64_t& delta)> run;  // may run again if its group failed
    std::function<void(const Error*)> finish;
    bool joins_group = false;  // delivery's: shares one transaction with the others of its kind waiting
    bool writes_records = false;  // adds records: runs on ingest's worker
    bool scans = false;  // reads the whole table (delivery's scan for due records): runs on the scans' worker
    bool outside_transaction = false;  // upkeep such as VACUUM, which a transaction block refuses
  };
  // An enqueue (or store): gathered with the others waiting into one transaction.
  struct Store {
    IngestWrite write;
    StoreDone done;
  };
  using Task = std::variant<Call, Store>;
  // A thread, its connection and the tasks waiting for it.
  struct Worker {
    std::optional<Connection> live;  // empty or broken: the next task connects again
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Task> pending;
    bool stopping = false;
    std::thread thread;
  };

  explicit Impl(PostgresQueueOptions opts) : options(std::move(opts)) {
    // Unique per process, host first so that it reads well: instances on one host share the host name (which
    // alone would let one instance's start hand out another's leases), and a restart is a new instance. A dead
    // instance's leases end when another instance takes its expired claims over.
    if (options.instance_id.empty()) {
      std::random_device random;
      options.instance_id =
          unique_instance_id(options.lease_owner.empty() ? host_name() : options.lease_owner, ::getpid(), random());
    }
    if (options.lease_owner.empty()) options.lease_owner = options.instance_id;
  }
  ~Impl() {
    for (Worker* w : {&ingest, &delivery, &scans}) {
      {
        std::lock_guard lock(w->mutex);
        w->stopping = true;
      }
      w->wake.notify_all();
    }
    for (Worker* w : {&ingest, &delivery, &scans}) {
      if (w->thread.joinable()) w->thread.join();
    }
  }

  UnixMillis now() const {
    if (options.clock) return options.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  postgres::ConnectOptions connect_options() const {
    return {options.url, options.connect_timeout, options.statement_timeout, "ometria-transformer",
            &round_trips};
  }
  Expected<RecordType> record_type(const std::string& name, const char* whose) const {
    auto type = ometria::record_type_from(name);
    if (!type) return fail(errc::io, std::string("queue: postgres: ") + whose + " has an unknown type \"" + name + "\"");
    return *type;
  }

  // The connection, opened again when the last one was lost: one attempt per backoff step (reconnect_delay), and
  // until the step's time every operation fails at once (ingest answers 503) instead of connecting itself.
  // The backoff is the workers' together (connect_mutex, held while one connects): one attempt per step for the
  // whole queue, whichever worker makes it.
  Expected<Connection*> connection(Worker& w) {
    if (w.live && !w.live->broken()) return &*w.live;
    w.live.reset();
    std::lock_guard lock(connect_mutex);
    const auto at = std::chrono::steady_clock::now();
    if (at < next_connect_at) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_connect_at - at);
      return fail(errc::unavailable, "queue: postgres: the database is unreachable (next attempt to connect in " +
                                         std::to_string(wait.count()) + " ms): " + last_connect_error, where);
    }
    auto opened = Connection::open(connect_options());
    if (!opened) {
      ++connect_failures;
      const auto delay =
          postgres::reconnect_delay(connect_failures, std::uniform_real_distribution<double>(0, 1)(rng));
      next_connect_at = std::chrono::steady_clock::now() + delay;
      last_connect_error = opened.error().message;
      database_lost(opened.error().message, delay);
      return tl::unexpected(opened.error());
    }
    w.live.emplace(std::move(*opened));
    database_back();
    return &*w.live;
  }
  // Told once per outage (the first error), and the state /health reads.
  void database_lost(const std::string& error, std::chrono::milliseconds retry_in) {
    std::lock_guard lock(health_mutex);
    health.error = error;
    if (health.state == QueueHealth::State::unavailable) return;
    health.state = QueueHealth::State::unavailable;
    health.since = now();
    down_since = std::chrono::steady_clock::now();
    obs::emit(obs::QueueDatabaseUnavailable{"postgres", error, /*reconnects=*/true, retry_in});
  }
  void database_back() {  // under connect_mutex
    const unsigned failures = std::exchange(connect_failures, 0u);
    next_connect_at = {};
    std::lock_guard lock(health_mutex);
    if (health.state == QueueHealth::State::ok) return;
    health = QueueHealth{"postgres", QueueHealth::State::ok, now(), {}};
    obs::emit(obs::QueueDatabaseBack{
        "postgres", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - down_since),
        failures});
  }

  // Stores, and calls that write new records, go to ingest's worker (records numbered and committed in the order
  // they came); the scans of the whole table to a worker of their own, so that a lease never waits behind one;
  // every other call to delivery's.
  Worker& worker_for(const Task& task) {
    const auto* c = std::get_if<Call>(&task);
    if (c == nullptr || c->writes_records) return ingest;
    return c->scans ? scans : delivery;
  }
  bool submit(Task task, Error& refused) {
    Worker& w = worker_for(task);
    {
      std::lock_guard lock(w.mutex);
      if (w.stopping) {
        refused = Error{errc::io, "queue: closed", where};
        return false;
      }
      if (w.pending.size() >= options.max_pending_operations) {
        refused = Error{errc::unavailable, "queue: too many operations waiting", where};
        return false;
      }
      w.pending.push_back(std::move(task));
    }
    w.wake.notify_one();
    return true;
  }

  // Runs body(db, delta) -> Expected<T> in a transaction of its own on the connection's thread, then done(result)
  // there after the commit; refused (closing, too busy), done is called at once on the caller's thread.
  template <class T, class Body>
  void submit_call(std::string_view what, Body body, Done<T> done, bool joins_group = false,
                   bool writes_records = false, bool scans_table = false) {
    auto result = std::make_shared<std::optional<T>>();
    auto shared_done = std::make_shared<Done<T>>(std::move(done));
    Call c;
    c.what = what;
    c.joins_group = joins_group;
    c.writes_records = writes_records;
    c.scans = scans_table;
    c.run = [result, body = std::move(body)](Connection& db, std::int64_t& delta) mutable -> Expected<void> {
      auto value = body(db, delta);
      if (!value) return tl::unexpected(value.error());
      result->emplace(std::move(*value));
      return {};
    };
    c.finish = [result, shared_done](const Error* err) {
      if (err != nullptr) (*shared_done)(tl::unexpected(*err));
      else (*shared_done)(std::move(**result));
    };
    Error refused;
    if (!submit(std::move(c), refused)) (*shared_done)(tl::unexpected(refused));
  }
  // Upkeep on the scans' worker, outside a transaction, answered to no one: a failure is logged as a failed
  // transaction is, and the next round tries again.
  void submit_upkeep(std::string_view what, std::function<Expected<void>(Connection&)> body) {
    Call c;
    c.what = what;
    c.scans = true;
    c.outside_transaction = true;
    c.run = [body = std::move(body)](Connection& db, std::int64_t&) { return body(db); };
    c.finish = [](const Error*) {};
    Error refused;
    (void)submit(std::move(c), refused);  // refused: closing or too busy, and the upkeep can wait
  }
  // As submit_call, and waits for the answer (never from the connection's thread: it fails instead).
  template <class T, class Body>
  Expected<T> call(std::string_view what, Body body) {
    return wait_for<T>(what, [&](Done<T> done) { submit_call<T>(what, std::move(body), std::move(done)); });
  }

  void loop(Worker& w);
  void run_call(Worker& w, Call& c);
  // Runs a group the loop gathered (stores and delivery's calls, or one other call) in one transaction, and
  // answers each in the order they came.
  void run_group(Worker& w, std::vector<Task>& group);
  // Every store's records in one INSERT (and their rejected events); stored[i] gets stores[i]'s ids.
  Expected<void> write_stores(Connection& db, const std::vector<Store*>& stores, std::vector<IngestStored>& stored);
  void finish_call(Call& c, const Error* err);
  void finish_store(Store& s, Expected<IngestStored> answer);
  // Runs body inside BEGIN ... COMMIT on the current connection; rolls back on failure.
  // Delivery's calls (lease, ack, reschedule, give back, dead-letter, the request log) commit without waiting for
  // the WAL flush: losing one in a crash of the database loses no record (the records stay, leased no longer
  // or not yet acked) and at worst delivers a push's records again, which at-least-once delivery allows anyway
  // (docs/scaling.md). Everything else, every write of records first, waits for the flush.
  Expected<void> in_transaction(Worker& w, std::string_view what,
                                const std::function<Expected<void>(Connection&)>& body, bool flush_on_commit = true);
  void apply_delta(std::int64_t delta);

  // Stores records as new rows, due now; ids[i] becomes records[i]'s id (ids grow in the records' order).
  Expected<void> insert_records(Connection& db, const std::vector<const NewRecord*>& records, std::vector<RecordId>& ids);
  Expected<std::uint64_t> insert_rejected(Connection& db, const std::vector<const NewRejectedEvent*>& events);
  // What an operation moved out of the queue, as its delta and this call's backfill change; returns how many.
  std::size_t moved_out(const postgres::LaneCounts& moved, std::int64_t& delta) {
    moved_out_since_floors += static_cast<std::uint64_t>(moved.total());
    delta = -moved.total();
    backfill_delta = -moved.backfill;
    return static_cast<std::size_t>(moved.total());
  }
  void flush_request_log();
  // After a ready scan (its rows: api key, type, lane first): the upkeep that is due.
  void start_upkeep(const postgres::Result& ready);
  Expected<std::vector<HeldKey>> read_held_keys(Connection& db);

  PostgresQueueOptions options;
  std::string where;  // the server, for errors (no password)
  Worker ingest, delivery, scans;
  std::atomic<std::uint64_t> depth{0};  // every lane
  std::atomic<std::uint64_t> backfill_depth{0};
  // The running call's change to the backfill lane (its delta is every lane's), applied once it commits: each
  // worker's thread its own.
  static thread_local std::int64_t backfill_delta;
  postgres::PendingRequestLog log_pending{options.max_pending_request_log};
  std::atomic<std::uint64_t> commits{0};
  mutable std::atomic<std::uint64_t> round_trips{0};  // answers awaited on any of the queue's connections
  // Reconnecting, guarded by connect_mutex: failed attempts in a row, when the next may come, what the last met.
  std::mutex connect_mutex;
  unsigned connect_failures = 0;
  std::chrono::steady_clock::time_point next_connect_at{};
  std::string last_connect_error;
  std::minstd_rand rng{std::random_device{}()};
  std::chrono::steady_clock::time_point down_since{};  // guarded by health_mutex
  mutable std::mutex health_mutex;
  QueueHealth health{"postgres", QueueHealth::State::ok, 0, {}};  // guarded by health_mutex
  // The scans' worker's only (upkeep.hpp).
  postgres::FloorRaiser floors{options.partition_floor_step};
  postgres::Cadence vacuum_cadence{std::chrono::seconds(2)};
  std::atomic<std::uint64_t> moved_out_since_floors{0};  // records acked or dead-lettered: floors may rise
  std::atomic<std::uint64_t> leases_since_vacuum{0};     // lease rows written: each dies at its push's end
};

thread_local std::int64_t PostgresQueue::Impl::backfill_delta = 0;

Expected<void> PostgresQueue::Impl::in_transaction(Worker& w, std::string_view what,
                                                   const std::function<Expected<void>(Connection&)>& body,
                                                   bool flush_on_commit) {
  // READ COMMITTED whatever the database's default: each statement reads what committed before it started, which
  // a lease (the partition's leases) and the partition floors' steps rely on.
  const char* begin = flush_on_commit ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                      : "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit = off";
  auto conn = connection(w);
  if (!conn) return tl::unexpected(conn.error());
  if (auto begun = (*conn)->run(begin, what); !begun) {
    if (!(*conn)->broken()) return begun;
    // Lost while idle (the server restarted meanwhile): nothing was done yet, so a new connection may do it.
    conn = connection(w);
    if (!conn) return tl::unexpected(conn.error());
    if (auto again = (*conn)->run(begin, what); !again) {
      if ((*conn)->broken()) database_lost(again.error().message, std::chrono::milliseconds(0));
      return again;
    }
  }
  Connection& c = **conn;
  auto done = body(c);
  if (done) done = c.run("COMMIT", std::string(what) + " (commit)");
  if (!done) {
    if (!c.broken()) (void)c.run("ROLLBACK", "roll back");
    else database_lost(done.error().message, std::chrono::milliseconds(0));  // the next operation reconnects
    obs::emit(obs::QueueTransactionFailed{done.error().message});
    return done;
  }
  commits.fetch_add(1, std::memory_order_relaxed);
  return {};
}

// After a ready scan, on its worker: the upkeep that is due (upkeep.hpp), each a call of its own behind the scan.
// Only while pushes come and go: an idle queue is left alone.
void PostgresQueue::Impl::start_upkeep(const postgres::Result& ready) {
  const auto now = std::chrono::steady_clock::now();
  if (leases_since_vacuum.load() > 0 && vacuum_cadence.claim(now)) {
    leases_since_vacuum = 0;
    submit_upkeep("vacuum the lease tables", postgres::vacuum_churning_tables);
  }
  if (moved_out_since_floors.load() == 0 || !floors.cadence.claim(now)) return;
  // In a transaction of its own: a failure there (logged as any failed transaction) leaves the floors where they
  // were and the scan's answer as it is.
  std::vector<postgres::FloorPartition> partitions;
  for (int r = 0; r < ready.rows(); ++r) {
    partitions.push_back(postgres::FloorPartition{ready.text(r, 0), ready.text(r, 1), ready.integer(r, 2)});
  }
  submit_call<bool>("raise partition floors",
      [this, partitions = std::move(partitions)](Connection& db, std::int64_t&) -> Expected<bool> {
        const std::uint64_t moved_before = moved_out_since_floors.load();
        auto raised = floors.step(db, partitions);
        if (!raised) return tl::unexpected(raised.error());
        if (*raised) moved_out_since_floors -= moved_before;  // those moved meanwhile still count
        return true;
      },
      [](Expected<bool>) {}, /*joins_group=*/false, /*writes_records=*/false, /*scans_table=*/true);
}

void PostgresQueue::Impl::apply_delta(std::int64_t delta) { add_clamped(depth, delta); }

void PostgresQueue::Impl::loop(Worker& w) {
  std::deque<Task>& pending = w.pending;
  for (;;) {
    std::vector<Task> group;
    {
      std::unique_lock lock(w.mutex);
      w.wake.wait(lock, [&w] { return w.stopping || !w.pending.empty(); });
      if (pending.empty()) return;  // stopping, and everything has been done
      // Group commit: the stores and delivery's calls that queued up behind the first, in the order they came, up
      // to the transaction's size; any other call is a transaction of its own.
      std::size_t records = 0, calls = 0;
      while (!pending.empty()) {
        Task& next = pending.front();
        if (auto* c = std::get_if<Call>(&next)) {
          if (!group.empty() && (!c->joins_group || calls >= kMaxCallsPerGroup)) break;
          ++calls;
          const bool alone = !c->joins_group;
          group.push_back(std::move(next));
          pending.pop_front();
          if (alone) break;
          continue;
        }
        auto& s = std::get<Store>(next);
        const std::size_t n = s.write.records.size() + s.write.rejected.size();
        if (!group.empty() && records + n > options.max_records_per_transaction) break;
        records += n;
        group.push_back(std::move(next));
        pending.pop_front();
      }
    }
    run_group(w, group);
  }
}

void PostgresQueue::Impl::finish_call(Call& c, const Error* err) {
  try {
    c.finish(err);
  } catch (const std::exception& e) {
    obs::emit(obs::QueueCallbackThrew{e.what()});
  } catch (...) {
    obs::emit(obs::QueueCallbackThrew{std::nullopt});
  }
}

void PostgresQueue::Impl::finish_store(Store& s, Expected<IngestStored> answer) {
  try {
    s.done(std::move(answer));
  } catch (const std::exception& e) {
    obs::emit(obs::QueueCallbackThrew{e.what()});
  } catch (...) {
    obs::emit(obs::QueueCallbackThrew{std::nullopt});
  }
}

void PostgresQueue::Impl::run_call(Worker& w, Call& c) {
  std::int64_t delta = 0;
  backfill_delta = 0;
  if (c.outside_transaction) {
    auto conn = connection(w);
    Expected<void> done = conn ? c.run(**conn, delta) : Expected<void>(tl::unexpected(conn.error()));
    if (!done) {
      if (conn && (*conn)->broken()) database_lost(done.error().message, std::chrono::milliseconds(0));
      obs::emit(obs::QueueTransactionFailed{done.error().message});
    }
    return finish_call(c, done ? nullptr : &done.error());
  }
  auto done = in_transaction(w, c.what, [&](Connection& db) { return c.run(db, delta); }, !c.joins_group);
  if (done) apply_delta(delta);
  if (done) add_clamped(backfill_depth, backfill_delta);
  finish_call(c, done ? nullptr : &done.error());
}

void PostgresQueue::Impl::run_group(Worker& w, std::vector<Task>& group) {
  if (group.size() == 1) {
    if (auto* c = std::get_if<Call>(&group.front())) return run_call(w, *c);
  }
  std::vector<Store*> stores;
  std::vector<Call*> calls;
  for (auto& task : group) {
    if (auto* c = std::get_if<Call>(&task)) calls.push_back(c);
    else stores.push_back(&std::get<Store>(task));
  }
  std::vector<IngestStored> stored(stores.size());
  std::vector<std::int64_t> deltas(calls.size(), 0), backfills(calls.size(), 0);
  const char* what = calls.empty() ? "store" : stores.empty() ? "delivery" : "store and delivery";
  auto done = in_transaction(w, what, [&](Connection& db) -> Expected<void> {
    if (auto r = write_stores(db, stores, stored); !r) return r;
    for (std::size_t i = 0; i < calls.size(); ++i) {
      backfill_delta = 0;
      if (auto r = calls[i]->run(db, deltas[i]); !r) return r;
      backfills[i] = backfill_delta;
    }
    return {};
  }, /*flush_on_commit=*/!stores.empty());
  if (!done && group.size() > 1 && w.live && !w.live->broken()) {
    // One write or call the server refused must not fail the others it was gathered with: each alone, in order.
    for (auto& task : group) {
      if (auto* c = std::get_if<Call>(&task)) {
        run_call(w, *c);
        continue;
      }
      std::vector<Task> one;
      one.push_back(std::move(task));
      run_group(w, one);
    }
    return;
  }
  if (done) {
    for (std::size_t i = 0; i < stores.size(); ++i) {
      apply_delta(static_cast<std::int64_t>(stores[i]->write.records.size()));
      add_clamped(backfill_depth, postgres::lanes_of(stores[i]->write.records).backfill);
    }
    for (std::size_t i = 0; i < calls.size(); ++i) {
      apply_delta(deltas[i]);
      add_clamped(backfill_depth, backfills[i]);
    }
  }
  std::size_t next_store = 0;
  for (auto& task : group) {
    if (auto* c = std::get_if<Call>(&task)) {
      finish_call(*c, done ? nullptr : &done.error());
    } else {
      auto& s = std::get<Store>(task);
      if (done) finish_store(s, std::move(stored[next_store]));
      else finish_store(s, tl::unexpected(done.error()));
      ++next_store;
    }
  }
}

Expected<void> PostgresQueue::Impl::write_stores(Connection& db, const std::vector<Store*>& stores,
                                                 std::vector<IngestStored>& stored) {
  if (stores.empty()) return {};
  std::vector<const NewRecord*> records;
  std::vector<const NewRejectedEvent*> rejected;
  for (const Store* s : stores) {
    for (const auto& r : s->write.records) records.push_back(&r);
    for (const auto& e : s->write.rejected) rejected.push_back(&e);
  }
  std::vector<RecordId> ids;
  if (auto r = insert_records(db, records, ids); !r) return r;
  std::size_t next = 0;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    const std::size_t n = stores[i]->write.records.size();
    stored[i].records.assign(ids.begin() + static_cast<std::ptrdiff_t>(next),
                             ids.begin() + static_cast<std::ptrdiff_t>(next + n));
    next += n;
  }
  if (rejected.empty()) return {};
  auto dropped = insert_rejected(db, rejected);
  if (!dropped) return tl::unexpected(dropped.error());
  // The one trim is told to the last writer that added events: it took the store past its bound.
  for (std::size_t i = stores.size(); i-- > 0;) {
    if (stores[i]->write.rejected.empty()) continue;
    stored[i].rejected_dropped = *dropped;
    break;
  }
  return {};
}

Expected<void> PostgresQueue::Impl::insert_records(Connection& db, const std::vector<const NewRecord*>& records,
                                                   std::vector<RecordId>& ids) {
  ids.clear();
  if (records.empty()) return {};
  std::vector<std::string> keys, types, lanes, jsons;
  keys.reserve(records.size());
  types.reserve(records.size());
  lanes.reserve(records.size());
  jsons.reserve(records.size());
  for (const NewRecord* r : records) {
    keys.push_back(r->api_key);
    types.emplace_back(ometria::to_string(r->type));
    lanes.push_back(std::to_string(static_cast<int>(r->lane)));
    jsons.push_back(r->json);
  }
  Params p;
  p.add_array(keys).add_array(types).add_array(lanes).add_array(jsons).add(now());
  // The ids from the sequence (the column's default) in one round trip with the rows: taken row by row in the
  // records' order (ORDER BY n), so the ids, sorted, are the records' in order, whatever other sessions take.
  auto inserted = db.exec_prepared("store records",
      "INSERT INTO records(api_key, type, lane, json, next_attempt_at, created_at)"
      " SELECT t.api_key, t.type, t.lane, t.json, $5, $5"
      " FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[]) WITH ORDINALITY AS t(api_key, type, lane, json, n)"
      " ORDER BY t.n RETURNING id",
      p, "store records");
  if (!inserted) return tl::unexpected(inserted.error());
  for (int r = 0; r < inserted->rows(); ++r) ids.push_back(inserted->integer(r, 0));
  std::sort(ids.begin(), ids.end());
  if (ids.size() != records.size()) return fail(errc::io, "queue: postgres: the insert returned too few ids", where);
  return {};
}

Expected<std::uint64_t> PostgresQueue::Impl::insert_rejected(Connection& db,
                                                             const std::vector<const NewRejectedEvent*>& events) {
  std::vector<std::string> sources, routes, reasons, texts;
  for (const NewRejectedEvent* e : events) {
    sources.push_back(e->source);
    routes.push_back(e->route);
    reasons.push_back(e->reason);
    texts.push_back(e->event);
  }
  Params p;
  p.add_array(sources).add_array(routes).add_array(reasons).add_array(texts).add(now());
  auto inserted = db.exec(
      "INSERT INTO rejected_events(source, route, reason, rejected_at, event)"
      " SELECT t.source, t.route, t.reason, $5, t.event"
      " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(source, route, reason, event, n)"
      " ORDER BY t.n",
      p, "store rejected events");
  if (!inserted) return tl::unexpected(inserted.error());
  // Ids only grow, so their span bounds the count: within the bound (the usual case) no count is needed.
  auto span = db.exec("SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM rejected_events", "measure rejected events");
  if (!span) return tl::unexpected(span.error());
  const auto bound = options.max_rejected_events;
  if (static_cast<std::uint64_t>(span->integer(0, 0)) <= bound) return std::uint64_t{0};
  auto counted = db.exec("SELECT COUNT(*) FROM rejected_events", "count rejected events");
  if (!counted) return tl::unexpected(counted.error());
  const auto stored = static_cast<std::uint64_t>(counted->integer(0, 0));
  if (stored <= bound) return std::uint64_t{0};
  Params drop;
  drop.add(static_cast<std::int64_t>(stored - bound));
  auto dropped = db.exec("DELETE FROM rejected_events WHERE id IN (SELECT id FROM rejected_events ORDER BY id LIMIT $1)",
                         drop, "drop the oldest rejected events");
  if (!dropped) return tl::unexpected(dropped.error());
  return static_cast<std::uint64_t>(dropped->changed());
}

Expected<std::vector<HeldKey>> PostgresQueue::Impl::read_held_keys(Connection& db) {
  auto rows = db.exec("SELECT api_key, reason, held_at FROM held_keys ORDER BY held_at, api_key", "list held keys");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<HeldKey> held;
  for (int r = 0; r < rows->rows(); ++r) held.push_back(HeldKey{rows->text(r, 0), rows->text(r, 1), rows->integer(r, 2)});
  return held;
}

Expected<std::unique_ptr<PostgresQueue>> PostgresQueue::open(PostgresQueueOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  // Not through connection(): a server unreachable at start is a start-up error, not an outage to ride out.
  auto opened = Connection::open(impl->connect_options());
  if (!opened) return tl::unexpected(opened.error());
  Connection& db = impl->delivery.live.emplace(std::move(*opened));
  impl->where = db.where();
  if (auto r = postgres::prepare_schema(db); !r) return tl::unexpected(r.error());
  if (impl->options.take_over_leases) {
    // This instance restarted: what it had leased and not acked is handed out again now, not when the leases end.
    Params p;
    p.add(impl->options.lease_owner);
    auto released = db.exec("DELETE FROM record_leases WHERE lease_owner = $1", p, "release this instance's old leases");
    if (!released) return tl::unexpected(released.error());
  }
  auto lanes = postgres::count_lanes(db);
  if (!lanes) return tl::unexpected(lanes.error());
  impl->depth = static_cast<std::uint64_t>(lanes->total());
  impl->backfill_depth = static_cast<std::uint64_t>(lanes->backfill);
  impl->health.since = impl->now();
  for (Impl::Worker* w : {&impl->ingest, &impl->scans}) {
    auto another = Connection::open(impl->connect_options());
    if (!another) return tl::unexpected(another.error());
    w->live.emplace(std::move(*another));
  }
  Impl* raw = impl.get();
  for (Impl::Worker* w : {&raw->ingest, &raw->delivery, &raw->scans}) {
    w->thread = std::thread([raw, w] {
      const QueueThreadMark mark;  // the waiting forms refuse to wait here
      raw->loop(*w);
    });
  }
  return std::unique_ptr<PostgresQueue>(new PostgresQueue(std::move(impl)));
}

PostgresQueue::PostgresQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresQueue::~PostgresQueue() = default;  // Impl finishes the pending tasks and joins its threads

void PostgresQueue::enqueue(std::vector<NewRecord> records, EnqueueDone done) {
  store(IngestWrite{std::move(records), {}}, records_only(std::move(done)));
}

void PostgresQueue::store(IngestWrite write, StoreDone done) {
  if (auto answer = answer_before_queueing(write, impl_->options.max_records_per_enqueue)) {
    done(std::move(*answer));
    return;
  }
  auto shared_done = std::make_shared<StoreDone>(std::move(done));
  Error refused;
  if (!impl_->submit(Impl::Store{std::move(write), [shared_done](Expected<IngestStored> r) { (*shared_done)(std::move(r)); }},
                     refused)) {
    (*shared_done)(tl::unexpected(refused));
  }
}

void PostgresQueue::lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
                                      std::chrono::milliseconds lease_for, Done<Leased> done) {
  if (max == 0) return done(Leased{});
  impl_->submit_call<Leased>("lease", [impl = impl_.get(), api_key, type, lane, max, lease_for](Connection& db, std::int64_t&)
                                          -> Expected<Leased> {
    const UnixMillis now = impl->now();
    const std::int64_t lane_column = lane == Lane::backfill ? 1 : 0;
    // One lease of a partition at a time, across instances: the lease below then reads every lease committed
    // before it. Held by another transaction (another instance leasing the same records this moment): nothing
    // leased now, the next scan finds the partition again.
    Params partition;
    partition.add(api_key).add(ometria::to_string(type)).add(lane_column);
    auto locked = db.exec_prepared("lock partition", kLockPartition, partition, "lock partition");
    if (!locked) return tl::unexpected(locked.error());
    if (locked->text(0, 0) != "t") return Leased{};
    Params p;
    p.add(api_key).add(ometria::to_string(type)).add(now).add(static_cast<std::int64_t>(max));
    p.add(now + std::max<std::int64_t>(lease_for.count(), 1)).add(impl->options.lease_owner);
    p.add(lane_column);
    // One more than asked is read to learn whether more are due. The partition's live leases are a few pushes'
    // ids: NOT IN reads them once into a hash. Its ended leases go on the way.
    static const std::string kLease =
        "WITH gone AS (DELETE FROM record_leases WHERE api_key = $1 AND type = $2 AND lane = $7 AND leased_until <= $3),"
        " due AS (SELECT id, json, lane, attempts, next_attempt_at, created_at FROM records"
        "   WHERE api_key = $1 AND type = $2 AND lane = $7 AND id >= " + postgres::floor_of("$1", "$2", "$7") +
        "   AND next_attempt_at <= $3 AND id NOT IN (SELECT unnest(record_ids) FROM record_leases"
        "                  WHERE api_key = $1 AND type = $2 AND lane = $7 AND leased_until > $3)"
        "   ORDER BY id LIMIT $4::bigint + 1),"
        // The first $4 ids leased; the rows come back unsorted (a sort here moved every record's JSON twice) with
        // the one more, if due, for the caller to put in order and drop.
        " taken AS (SELECT array_agg(id ORDER BY id) AS ids FROM (SELECT id FROM due ORDER BY id LIMIT $4) first),"
        " noted AS (INSERT INTO record_leases(api_key, type, lane, record_ids, first_id, last_id, leased_until, lease_owner)"
        "   SELECT $1, $2, $7, ids, ids[1], ids[cardinality(ids)], $5, $6 FROM taken WHERE cardinality(ids) > 0)"
        " SELECT id, json, lane, attempts, next_attempt_at, created_at FROM due";  // built once: floor_of is SQL text
    auto rows = db.exec_prepared("lease", kLease, p, "lease");
    if (!rows) return tl::unexpected(rows.error());
    Leased result;
    for (int r = 0; r < rows->rows(); ++r) {
      QueuedRecord q;
      q.id = rows->integer(r, 0);
      q.api_key = api_key;
      q.type = type;
      q.json = rows->text(r, 1);
      q.lane = rows->integer(r, 2) == 1 ? Lane::backfill : Lane::live;
      q.attempts = static_cast<std::uint32_t>(rows->integer(r, 3));
      q.next_attempt_at = rows->integer(r, 4);
      q.created_at = rows->integer(r, 5);
      result.records.push_back(std::move(q));
    }
    if (!result.records.empty()) impl->leases_since_vacuum += 1;
    std::sort(result.records.begin(), result.records.end(),
              [](const QueuedRecord& a, const QueuedRecord& b) { return a.id < b.id; });
    result.more_due = result.records.size() > max;
    if (result.more_due) result.records.resize(max);  // read to learn that more are due, not leased
    return result;
  }, std::move(done), /*joins_group=*/true);
}

void PostgresQueue::ack(const std::vector<RecordId>& ids, Done<std::size_t> done) {
  if (ids.empty()) return done(std::size_t{0});
  impl_->submit_call<std::size_t>("ack", [impl = impl_.get(), ids](Connection& db, std::int64_t& delta) -> Expected<std::size_t> {
    Params p;
    p.add_array(sorted_ids(ids));
    auto deleted = postgres::move_out(db, "moved AS (DELETE FROM records WHERE id = ANY($1::bigint[]) RETURNING *), " + end_leases("moved"), p,
                                      CountedAs::delivered, "ack");
    if (!deleted) return tl::unexpected(deleted.error());
    return impl->moved_out(*deleted, delta);
  }, std::move(done), /*joins_group=*/true);
}

void PostgresQueue::reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay, Done<std::size_t> done) {
  if (ids.empty()) return done(std::size_t{0});
  impl_->submit_call<std::size_t>("reschedule", [impl = impl_.get(), ids, delay](Connection& db, std::int64_t&)
                                                    -> Expected<std::size_t> {
    Params p;
    p.add_array(sorted_ids(ids));
    p.add(impl->now() + std::max<std::int64_t>(delay.count(), 0));
    auto changed = db.exec_prepared("reschedule",
        "WITH retried AS (UPDATE records SET attempts = attempts + 1, next_attempt_at = $2"
        "   WHERE id = ANY($1::bigint[]) RETURNING api_key, type, lane), " + end_leases("retried") +
            " SELECT COUNT(*) FROM retried",
        p, "reschedule");
    if (!changed) return tl::unexpected(changed.error());
    return static_cast<std::size_t>(changed->integer(0, 0));
  }, std::move(done), /*joins_group=*/true);
}

void PostgresQueue::give_back(const std::vector<RecordId>& ids, Done<std::size_t> done) {
  if (ids.empty()) return done(std::size_t{0});
  impl_->submit_call<std::size_t>("give_back", [ids](Connection& db, std::int64_t&) -> Expected<std::size_t> {
    Params p;
    p.add_array(sorted_ids(ids));
    // How many of them were leased: counted in the leases before they end.
    auto changed = db.exec("WITH given AS (SELECT DISTINCT api_key, type, lane FROM records WHERE id = ANY($1::bigint[])), " +
                               end_leases("given") +
                               " SELECT COUNT(DISTINCT x) FROM record_leases l, unnest(l.record_ids) x"
                               " WHERE (l.api_key, l.type, l.lane) IN (SELECT api_key, type, lane FROM given)"
                               "   AND x = ANY($1::bigint[])",
                           p, "give back");
    if (!changed) return tl::unexpected(changed.error());
    return static_cast<std::size_t>(changed->integer(0, 0));
  }, std::move(done), /*joins_group=*/true);
}

void PostgresQueue::dead_letter(const std::vector<RecordId>& ids, const std::string& reason, Done<std::size_t> done) {
  if (ids.empty()) return done(std::size_t{0});
  impl_->submit_call<std::size_t>("dead_letter", [impl = impl_.get(), ids, reason](Connection& db, std::int64_t& delta)
                                                     -> Expected<std::size_t> {
    Params p;
    p.add_array(sorted_ids(ids)).add(reason).add(impl->now());
    auto moved = postgres::move_out(
        db,
        "moved AS (DELETE FROM records WHERE id = ANY($1::bigint[]) RETURNING *), " + end_leases("moved") + ","
            " dead AS (INSERT INTO dead_letters(id, api_key, type, lane, json, attempts, created_at, reason, dead_at)"
            " SELECT id, api_key, type, lane, json, attempts + 1, created_at, $2, $3 FROM moved" +
            kDeadLetterUpsert + ")",
        p, CountedAs::dead_lettered, "dead-letter");
    if (!moved) return tl::unexpected(moved.error());
    return impl->moved_out(*moved, delta);
  }, std::move(done), /*joins_group=*/true);
}

void PostgresQueue::hold_key(const std::string& api_key, const std::string& reason, Done<void> done) {
  impl_->submit_call<bool>("hold_key", [impl = impl_.get(), api_key, reason](Connection& db, std::int64_t&)
                                             -> Expected<bool> {
    Params p;
    p.add(api_key).add(reason).add(impl->now());
    auto held = db.exec(
        "INSERT INTO held_keys(api_key, reason, held_at) VALUES($1, $2, $3)"
        " ON CONFLICT (api_key) DO UPDATE SET reason = EXCLUDED.reason, held_at = EXCLUDED.held_at",
        p, "hold key");
    if (!held) return tl::unexpected(held.error());
    return true;
  }, discard_value(std::move(done)));
}

namespace {
Expected<void> drop_hold(Connection& db, const std::string& api_key) {
  Params p;
  p.add(api_key);
  auto r = db.exec("DELETE FROM held_keys WHERE api_key = $1", p, "unhold key");
  if (!r) return tl::unexpected(r.error());
  return {};
}
}  // namespace

void PostgresQueue::unhold_key(const std::string& api_key, Done<void> done) {
  impl_->submit_call<bool>("unhold_key", [api_key](Connection& db, std::int64_t&) -> Expected<bool> {
    if (auto d = drop_hold(db, api_key); !d) return tl::unexpected(d.error());
    return true;
  }, discard_value(std::move(done)));
}

void PostgresQueue::held_keys(Done<std::vector<HeldKey>> done) {
  impl_->submit_call<std::vector<HeldKey>>("held_keys", [impl = impl_.get()](Connection& db, std::int64_t&) { return impl->read_held_keys(db); }, std::move(done));
}

void PostgresQueue::rekey(const std::string& from_key, const std::string& to_key, Done<std::size_t> done) {
  impl_->submit_call<std::size_t>("rekey", [from_key, to_key](Connection& db, std::int64_t&) -> Expected<std::size_t> {
    Params p;
    p.add(to_key).add(from_key);
    // Same ids, attempts, due times and leases: only the key changes. The held key's ids are old, below the
    // floors the new key's partitions may have reached meanwhile: those go first.
    if (auto forgot = postgres::forget_floors(db); !forgot) return tl::unexpected(forgot.error());
    auto moved = db.exec("WITH leases AS (UPDATE record_leases SET api_key = $1 WHERE api_key = $2)"
                         " UPDATE records SET api_key = $1 WHERE api_key = $2", p, "rekey records");
    if (!moved) return tl::unexpected(moved.error());
    if (auto d = drop_hold(db, from_key); !d) return tl::unexpected(d.error());
    return moved->changed();
  }, std::move(done));
}

void PostgresQueue::release_key(const std::string& api_key, const std::string& reason, Done<std::size_t> done) {
  impl_->submit_call<std::size_t>("release_key", [impl = impl_.get(), api_key, reason](Connection& db,
                                                                                          std::int64_t& delta)
                                                     -> Expected<std::size_t> {
    Params p;
    p.add(api_key).add(reason).add(impl->now());
    // Attempts as they are: no push failed here, the operator gave the records up.
    auto moved = postgres::move_out(
        db,
        std::string("leases AS (DELETE FROM record_leases WHERE api_key = $1),"
                    " moved AS (DELETE FROM records WHERE api_key = $1 RETURNING *),"
                    " dead AS (INSERT INTO dead_letters(id, api_key, type, lane, json, attempts, created_at, reason, dead_at)"
                    " SELECT id, api_key, type, lane, json, attempts, created_at, $2, $3 FROM moved") +
            kDeadLetterUpsert + ")",
        p, CountedAs::dead_lettered, "release key");
    if (!moved) return tl::unexpected(moved.error());
    if (auto d = drop_hold(db, api_key); !d) return tl::unexpected(d.error());
    return impl->moved_out(*moved, delta);
  }, std::move(done));
}

// Partitions one by one off records_by_partition (each the (api key, type, lane) before the last: a lookup in the
// index, not a read of the table; backwards, so that each lands on its partition's newest records, not on the
// index entries of the oldest, acked and not yet vacuumed), each counting its due records in id order up to count_up_to: a scan of a
// deep queue reads a few pushes' worth per partition, not every due row (74 ms at 150,000 records, once counted
// in full; docs/scaling.md, "Benchmark"). The oldest due record is near enough the first in id order: ids grow
// as records arrive, and a retried record keeps its id.
// A partition's leased records are due (a lease takes due records; a reschedule ends the lease): counting its
// first (bound + leased) due records and taking the leased away counts the free ones, without looking each record
// up in the leases (exact up to the bound).
void PostgresQueue::ready_partitions(std::uint64_t count_up_to, Done<std::vector<ReadyPartition>> done) {
  impl_->submit_call<std::vector<ReadyPartition>>("ready_partitions", [impl = impl_.get(), count_up_to](Connection& db, std::int64_t&) -> Expected<std::vector<ReadyPartition>> {
        Params p;
        p.add(impl->now());
        add_limit(p, count_up_to);
        static const std::string kReadyPartitions =
            "WITH RECURSIVE part AS ("
            "  (SELECT api_key, type, lane FROM records ORDER BY api_key DESC, type DESC, lane DESC LIMIT 1)"
            "  UNION ALL"
            "  SELECT nxt.api_key, nxt.type, nxt.lane FROM part, LATERAL ("
            "    SELECT r.api_key, r.type, r.lane FROM records r WHERE (r.api_key, r.type, r.lane) < (part.api_key, part.type, part.lane)"
            "    ORDER BY r.api_key DESC, r.type DESC, r.lane DESC LIMIT 1) nxt)"
            " SELECT part.api_key, part.type, part.lane, due.ready FROM part"
            " CROSS JOIN LATERAL (SELECT COALESCE(SUM(cardinality(l.record_ids)), 0) AS ids FROM record_leases l"
            "   WHERE l.api_key = part.api_key AND l.type = part.type AND l.lane = part.lane AND l.leased_until > $1) leased"
            " CROSS JOIN LATERAL ("
            "   SELECT COUNT(*) - leased.ids AS ready, MIN(created_at) AS oldest FROM ("
            "     SELECT created_at FROM records r WHERE r.api_key = part.api_key AND r.type = part.type"
            "       AND r.lane = part.lane AND r.id >= " + postgres::floor_of("part.api_key", "part.type", "part.lane") +
            "       AND r.next_attempt_at <= $1 ORDER BY r.id LIMIT $2 + leased.ids) d) due"
            " WHERE due.ready > 0 AND part.api_key NOT IN (SELECT api_key FROM held_keys)"
            " ORDER BY part.lane, due.oldest";  // live first, as delivery wants them
        auto rows = db.exec_prepared("list ready partitions", kReadyPartitions, p, "list ready partitions");
        if (!rows) return tl::unexpected(rows.error());
        std::vector<ReadyPartition> ready;
        for (int r = 0; r < rows->rows(); ++r) {
          auto type = impl->record_type(rows->text(r, 1), "a record");
          if (!type) return tl::unexpected(type.error());
          ready.push_back(ReadyPartition{rows->text(r, 0), *type, static_cast<std::uint64_t>(rows->integer(r, 3)),
                                         rows->integer(r, 2) == 1 ? Lane::backfill : Lane::live});
        }
        impl->start_upkeep(*rows);
        return ready;
      }, std::move(done), /*joins_group=*/false, /*writes_records=*/false, /*scans_table=*/true);
}

void PostgresQueue::stats(Done<QueueStats> done) {
  impl_->submit_call<QueueStats>("stats", [impl = impl_.get()](Connection& db, std::int64_t&) -> Expected<QueueStats> {
    QueueStats s;
    auto rows = db.exec(
        "SELECT api_key, type, lane, COUNT(*), MIN(created_at) FROM records GROUP BY api_key, type, lane"
        " ORDER BY api_key, type, lane",
        "queue stats");
    if (!rows) return tl::unexpected(rows.error());
    for (int r = 0; r < rows->rows(); ++r) {
      auto type = impl->record_type(rows->text(r, 1), "a record");
      if (!type) return tl::unexpected(type.error());
      PartitionStats p{rows->text(r, 0), *type, static_cast<std::uint64_t>(rows->integer(r, 3)), rows->integer(r, 4),
                       rows->integer(r, 2) == 1 ? Lane::backfill : Lane::live};
      s.depth += p.depth;
      if (!s.oldest_created_at || p.oldest_created_at < *s.oldest_created_at) s.oldest_created_at = p.oldest_created_at;
      s.partitions.push_back(std::move(p));
    }
    if (auto totals = postgres::add_lane_totals(db, s); !totals) return tl::unexpected(totals.error());
    auto counts = db.exec("SELECT (SELECT COUNT(*) FROM dead_letters), (SELECT COUNT(*) FROM rejected_events)",
                          "count dead letters and rejected events");
    if (!counts) return tl::unexpected(counts.error());
    s.dead_letters = static_cast<std::uint64_t>(counts->integer(0, 0));
    s.rejected_events = static_cast<std::uint64_t>(counts->integer(0, 1));
    auto held = impl->read_held_keys(db);
    if (!held) return tl::unexpected(held.error());
    s.held_keys = std::move(*held);
    auto instances = postgres::read_delivery_instances(db);
    if (!instances) return tl::unexpected(instances.error());
    s.instances = std::move(*instances);
    return s;
  }, [impl = impl_.get(), done = std::move(done)](Expected<QueueStats> stats) {
  // Another process (the CLI, another instance) may have changed the table: the exact count re-syncs the cheap one.
  if (stats) {
    std::uint64_t backfill = 0;
    for (const auto& p : stats->partitions) backfill += p.lane == Lane::backfill ? p.depth : 0;
    impl->depth.store(stats->depth, std::memory_order_relaxed);
    impl->backfill_depth.store(backfill, std::memory_order_relaxed);
  }
  done(std::move(stats));
  });
}

QueueHealth PostgresQueue::health() const {
  std::lock_guard lock(impl_->health_mutex);
  QueueHealth health = impl_->health;
  health.round_trips = impl_->round_trips.load(std::memory_order_relaxed);
  return health;
}

std::uint64_t PostgresQueue::depth() const { return impl_->depth.load(std::memory_order_relaxed); }
std::uint64_t PostgresQueue::lane_depth(Lane lane) const {
  const auto backfill = impl_->backfill_depth.load(std::memory_order_relaxed);
  if (lane == Lane::backfill) return backfill;
  const auto all = depth();
  return all > backfill ? all - backfill : 0;
}
std::uint64_t PostgresQueue::high_water_mark() const { return impl_->options.high_water_mark; }
std::uint64_t PostgresQueue::commits() const { return impl_->commits.load(std::memory_order_relaxed); }

void PostgresQueue::dead_letters(const DeadLetterSelection& which, Done<std::vector<DeadRecord>> done) {
  impl_->submit_call<std::vector<DeadRecord>>("dead_letters", [impl = impl_.get(), which](Connection& db, std::int64_t&) -> Expected<std::vector<DeadRecord>> {
        Params p;
        const std::string condition = dead_letter_condition(which, p);
        auto rows = db.exec("SELECT id, api_key, type, lane, json, attempts, created_at, reason, dead_at"
                            " FROM dead_letters WHERE " + condition + " ORDER BY id",
                            p, "read dead letters");
        if (!rows) return tl::unexpected(rows.error());
        std::vector<DeadRecord> dead;
        for (int r = 0; r < rows->rows(); ++r) {
          auto type = impl->record_type(rows->text(r, 2), "a dead letter");
          if (!type) return tl::unexpected(type.error());
          DeadRecord d;
          d.record.id = rows->integer(r, 0);
          d.record.api_key = rows->text(r, 1);
          d.record.type = *type;
          d.record.lane = rows->integer(r, 3) == 1 ? Lane::backfill : Lane::live;
          d.record.json = rows->text(r, 4);
          d.record.attempts = static_cast<std::uint32_t>(rows->integer(r, 5));
          d.record.created_at = rows->integer(r, 6);
          d.reason = rows->text(r, 7);
          d.dead_at = rows->integer(r, 8);
          dead.push_back(std::move(d));
        }
        if (which.ids.empty()) return dead;
        // In the order the ids were given, as the SQLite queue answers.
        std::unordered_map<RecordId, std::size_t> at;
        for (std::size_t i = 0; i < dead.size(); ++i) at.emplace(dead[i].record.id, i);
        std::vector<DeadRecord> ordered;
        for (RecordId id : which.ids) {
          if (auto it = at.find(id); it != at.end()) ordered.push_back(dead[it->second]);
        }
        return ordered;
      }, std::move(done));
}

void PostgresQueue::replay(const DeadLetterSelection& which, Done<std::size_t> done) {
  impl_->submit_call<std::size_t>("replay", [impl = impl_.get(), which](Connection& db, std::int64_t& delta)
                                                -> Expected<std::size_t> {
    Params p;
    const std::string condition = dead_letter_condition(which, p);
    p.add(impl->now());
    // Same ids (the sequence never hands them out again), attempts 0, due now, in the live lane (queue.hpp):
    // below their partitions' floors, which go first.
    if (auto forgot = postgres::forget_floors(db); !forgot) return tl::unexpected(forgot.error());
    auto moved = db.exec("WITH moved AS (DELETE FROM dead_letters WHERE " + condition +
                             " RETURNING *) INSERT INTO records(id, api_key, type, lane, json, attempts, next_attempt_at,"
                             " created_at) SELECT id, api_key, type, 0, json, 0, $2, created_at FROM moved",
                         p, "replay dead letters");
    if (!moved) return tl::unexpected(moved.error());
    delta = static_cast<std::int64_t>(moved->changed());
    return moved->changed();
  }, std::move(done));
}

void PostgresQueue::purge(const DeadLetterSelection& which, Done<std::size_t> done) {
  impl_->submit_call<std::size_t>("purge", [which](Connection& db, std::int64_t&) -> Expected<std::size_t> {
    Params p;
    const std::string condition = dead_letter_condition(which, p);
    auto purged = db.exec("DELETE FROM dead_letters WHERE " + condition, p, "purge dead letters");
    if (!purged) return tl::unexpected(purged.error());
    return purged->changed();
  }, std::move(done));
}

void PostgresQueue::rejected_events(const RejectedEventSelection& which, Done<std::vector<RejectedEvent>> done) {
  impl_->submit_call<std::vector<RejectedEvent>>("rejected_events", [which](Connection& db, std::int64_t&) -> Expected<std::vector<RejectedEvent>> {
        Params p;
        p.add(which.after_id);
        if (which.since) p.add(*which.since);
        else p.add_null();
        p.add(which.source);
        add_limit(p, which.limit);
        auto rows = db.exec(
            "SELECT id, source, route, reason, rejected_at, event FROM rejected_events"
            " WHERE id > $1 AND ($2::bigint IS NULL OR rejected_at >= $2) AND ($3 = '' OR source = $3)"
            " ORDER BY id LIMIT $4",
            p, "read rejected events");
        if (!rows) return tl::unexpected(rows.error());
        std::vector<RejectedEvent> events;
        for (int r = 0; r < rows->rows(); ++r) {
          events.push_back(RejectedEvent{
              rows->integer(r, 0),
              NewRejectedEvent{rows->text(r, 1), rows->text(r, 2), rows->text(r, 3), rows->text(r, 5)},
              rows->integer(r, 4)});
        }
        return events;
      }, std::move(done));
}

void PostgresQueue::settle_rejected_events(std::vector<RejectedEventOutcome> outcomes, Done<RejectedEventsSettled> done) {
  for (const auto& outcome : outcomes) {
    if (!outcome.record) continue;
    if (auto fits = ometria::check_record_size(outcome.record->json.size(), errc::too_large); !fits)
      return done(tl::unexpected(std::move(fits.error())));
  }
  impl_->submit_call<RejectedEventsSettled>("settle_rejected_events",
      [impl = impl_.get(), outcomes = std::move(outcomes)](Connection& db, std::int64_t& delta) -> Expected<RejectedEventsSettled> {
        RejectedEventsSettled settled;
        std::vector<const NewRecord*> records;
        for (auto& outcome : outcomes) {
          Params p;
          if (outcome.reason) {
            p.add(*outcome.reason).add(outcome.id);
            auto updated = db.exec("UPDATE rejected_events SET reason = $1 WHERE id = $2", p, "update rejected event");
            if (!updated) return tl::unexpected(updated.error());
            if (updated->changed() == 0) ++settled.gone;
            else ++settled.still_rejected;
            continue;
          }
          // Removed first: only an event that was still stored becomes a record.
          p.add(outcome.id);
          auto removed = db.exec("DELETE FROM rejected_events WHERE id = $1", p, "delete rejected event");
          if (!removed) return tl::unexpected(removed.error());
          if (removed->changed() == 0) ++settled.gone;
          else if (!outcome.record) ++settled.skipped;
          else records.push_back(&*outcome.record);
        }
        std::vector<RecordId> ids;
        if (auto r = impl->insert_records(db, records, ids); !r) return tl::unexpected(r.error());
        settled.enqueued = records.size();
        delta = static_cast<std::int64_t>(records.size());
        impl->backfill_delta = postgres::lanes_of(records).backfill;
        return settled;
      }, std::move(done), /*joins_group=*/false, /*writes_records=*/true);
}

void PostgresQueue::record_ometria_errors(
    const std::string& api_key, const std::vector<delivery::SeenError>& seen, std::int64_t now, Done<std::vector<delivery::SeenError>> done) {
  impl_->submit_call<std::vector<delivery::SeenError>>("record_ometria_errors", [impl = impl_.get(), api_key, seen, now](Connection& db, std::int64_t&) {
        return postgres::record_ometria_errors(db, api_key, seen, now, impl->options.max_ometria_errors);
      }, std::move(done));
}

void PostgresQueue::ometria_errors(std::size_t limit, Done<std::vector<StoredOmetriaError>> done) {
  impl_->submit_call<std::vector<StoredOmetriaError>>("ometria_errors", [limit](Connection& db, std::int64_t&) { return postgres::list_ometria_errors(db, limit); }, std::move(done));
}

void PostgresQueue::ometria_errors_by_key(Done<std::vector<OmetriaErrorsOfKey>> done) {
  impl_->submit_call<std::vector<OmetriaErrorsOfKey>>("ometria_errors_by_key", [](Connection& db, std::int64_t&) { return postgres::ometria_errors_by_key(db); }, std::move(done));
}

// ---- the request log (RequestLog) ----

// Entries wait in memory until one task takes all of them: however many pushes end together, logging them adds
// one transaction, and the caller never waits for the database.
void PostgresQueue::log_pushes(std::vector<RequestLogEntry> entries, LogDone done) {
  if (entries.empty()) {
    if (done) done(nullptr);
    return;
  }
  switch (impl_->log_pending.add(entries, done)) {
    case postgres::PendingRequestLog::Added::joined:
      return;
    case postgres::PendingRequestLog::Added::needs_write:
      impl_->flush_request_log();
      return;
    case postgres::PendingRequestLog::Added::refused: {
      const Error refused{errc::unavailable,
                          "queue: too many pushes waiting to be logged (" +
                              std::to_string(impl_->options.max_pending_request_log) + ")",
                          impl_->where};
      if (done) done(&refused);
      return;
    }
  }
}

void PostgresQueue::Impl::flush_request_log() {
  // Taken when the task runs, not now: what was logged meanwhile goes in the same transaction.
  auto batch = std::make_shared<postgres::PendingRequestLog::Batch>();
  const auto tell = [batch](const Error* err) {
    for (auto& done : batch->waiting) {
      if (done) done(err);
    }
  };
  Call c;
  c.what = "log_pushes";
  c.joins_group = true;
  auto taken = std::make_shared<bool>(false);
  c.run = [this, batch, taken](Connection& db, std::int64_t&) -> Expected<void> {
    if (!std::exchange(*taken, true)) *batch = log_pending.take();  // once: run again alone, it writes the same
    if (auto r = postgres::insert_request_log(db, batch->entries); !r) return r;
    if (auto r = postgres::trim_request_log(db, options.max_request_log); !r) return tl::unexpected(r.error());
    return {};
  };
  c.finish = tell;
  Error refused;
  if (!submit(std::move(c), refused)) {
    *batch = log_pending.take();
    tell(&refused);
  }
}

void PostgresQueue::logged_requests(const RequestLogSelection& which, Done<std::vector<LoggedRequest>> done) {
  impl_->submit_call<std::vector<LoggedRequest>>(
      "logged_requests", [which](Connection& db, std::int64_t&) { return postgres::select_request_log(db, which); },
      std::move(done));
}

// ---- imports ----

void PostgresQueue::start_import_run(NewImportRun run, Done<ImportRun> done) {
  impl_->submit_call<ImportRun>("start_import_run", [impl = impl_.get(), run = std::move(run)](Connection& db, std::int64_t&) {
    return postgres::start_import_run(db, run, impl->now());
  }, std::move(done));
}

void PostgresQueue::import_runs(const std::string& run_key, Done<std::vector<ImportRun>> done) {
  impl_->submit_call<std::vector<ImportRun>>(
      "import_runs", [run_key](Connection& db, std::int64_t&) { return postgres::import_runs(db, run_key); },
      std::move(done));
}

void PostgresQueue::set_import_run_state(ImportRunId id, ImportState state, Done<void> done) {
  impl_->submit_call<bool>("set_import_run_state", [impl = impl_.get(), id, state](Connection& db, std::int64_t&)
                                                      -> Expected<bool> {
    if (auto set = postgres::set_import_run_state(db, id, state, impl->now()); !set) return tl::unexpected(set.error());
    return true;
  }, discard_value(std::move(done)));
}

// One transaction: the records and the checkpoint that says they are stored commit together, or neither does.
void PostgresQueue::enqueue_import(std::vector<NewRecord> records, ImportCheckpoint checkpoint, EnqueueDone done) {
  IngestWrite checked{std::move(records), {}};
  if (!checked.records.empty()) {
    if (auto answer = answer_before_queueing(checked, impl_->options.max_records_per_enqueue); answer && !*answer) {
      done(tl::unexpected(answer->error()));
      return;
    }
  }
  auto ids = std::make_shared<std::vector<RecordId>>();
  auto shared_done = std::make_shared<EnqueueDone>(std::move(done));
  Impl::Call c;
  c.what = "enqueue_import";
  c.writes_records = true;
  c.run = [impl = impl_.get(), ids, records = std::move(checked.records), checkpoint](Connection& db,
                                                                                       std::int64_t& delta) -> Expected<void> {
    std::vector<const NewRecord*> stored;
    for (const auto& r : records) stored.push_back(&r);
    if (auto r = impl->insert_records(db, stored, *ids); !r) return r;
    if (auto r = postgres::store_import_checkpoint(db, checkpoint, records.size(), impl->now()); !r) return r;
    delta = static_cast<std::int64_t>(records.size());
    impl->backfill_delta = postgres::lanes_of(records).backfill;
    return {};
  };
  c.finish = [ids, shared_done](const Error* err) {
    if (err != nullptr) (*shared_done)(tl::unexpected(*err));
    else (*shared_done)(std::move(*ids));
  };
  Error refused;
  if (!impl_->submit(std::move(c), refused)) (*shared_done)(tl::unexpected(refused));
}
void PostgresQueue::refresh_ownership(OwnershipRequest request, RoundDone done) {
  auto round = std::make_shared<postgres::OwnershipRound>();
  round->instance_id = impl_->options.instance_id;
  round->lease_timeout = impl_->options.lease_timeout;
  round->give_back = std::move(request.give_back);
  impl_->submit_call<OwnedKeys>(
      "ownership round",
      [impl = impl_.get(), round](Connection& db, std::int64_t&) {
        round->now = impl->now();  // when the round runs: the claims' expiry counts from here
        return postgres::run_ownership_round(db, *round);
      },
      std::move(done));
}

void PostgresQueue::resign_ownership(ResignDone done) {
  impl_->submit_call<bool>(
      "give every key back",
      [impl = impl_.get()](Connection& db, std::int64_t&) -> Expected<bool> {
        if (auto r = postgres::resign_ownership(db, impl->options.instance_id); !r) return tl::unexpected(r.error());
        return true;
      },
      [done = std::move(done)](Expected<bool> r) {
        if (!r) return done(tl::unexpected(r.error()));
        done({});
      });
}

std::chrono::milliseconds PostgresQueue::lease_timeout() const { return impl_->options.lease_timeout; }
const std::string& PostgresQueue::instance_id() const { return impl_->options.instance_id; }

}  // namespace omt::queue
