// SQLite queue. Why one writer thread for everything: a single connection then needs no locking of its own,
// its prepared statements are reused without contention, and every operation that arrives while a commit is
// being synced joins the next transaction (group commit), so one fsync answers many callers. Each operation
// runs inside its own SAVEPOINT, so one failing operation does not undo the others that share the transaction.
// Only enqueues need a durable commit (an ack, lease or reschedule lost to a power cut merely repeats a push,
// which at-least-once allows), so with Durability::power_loss only transactions holding an enqueue are fsynced.
// Records are stored in chunks (record_chunk.hpp): one row per enqueue and (api key, type), so a push's worth
// of records is stored, leased and deleted with a few B-tree operations; the writer thread is the pipeline's
// narrowest point, and per-record rows made it spend most of its time walking B-trees.
// Leases live in memory: they matter only to the running process, and a restart must hand every unacked
// record out again anyway.
#include "omt/queue/sqlite_queue.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "omt/ometria/push_api.hpp"
#include "omt/obs/log.hpp"
#include "record_chunk.hpp"

namespace omt::queue {
namespace {


Error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::filesystem::path& path) {
  std::string message = "queue: " + std::string(what) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (SQLite code " + std::to_string(rc) + ")";
  return Error{errc::io, std::move(message), path.string()};
}

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&& other) noexcept {
    std::swap(stmt_, other.stmt_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

struct SqliteQueue::Impl {
  // One unit of work for the writer thread. run() executes inside the shared transaction and reports how it
  // changes the number of waiting records; finish() is called after the commit, with the error if any.
  struct Task {
    std::size_t records = 1;
    bool durable = false;  // the caller is told "stored": commit with the configured durability
    std::function<Expected<void>(std::int64_t& depth_delta)> run;
    std::function<void(const Error*)> finish;
  };

  // A reused prepared statement, bound and stepped; reset (and its bindings cleared) when it goes out of scope.
  class Query {
   public:
    Query(Impl& impl, sqlite3_stmt* stmt, std::string_view what) : impl_(impl), stmt_(stmt), what_(what) {}
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query() {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
    Query& bind(std::int64_t value) {
      keep(sqlite3_bind_int64(stmt_, ++index_, value));
      return *this;
    }
    Query& bind(std::string_view value) {
      // SQLITE_STATIC: the caller's string outlives the step; SQLite need not copy it.
      keep(sqlite3_bind_text(stmt_, ++index_, value.data(), static_cast<int>(value.size()), SQLITE_STATIC));
      return *this;
    }
    Query& bind_blob(std::string_view value) {
      keep(sqlite3_bind_blob64(stmt_, ++index_, value.data(), value.size(), SQLITE_STATIC));
      return *this;
    }
    // true: a row is ready; false: done.
    Expected<bool> step() {
      if (bind_rc_ != SQLITE_OK) return tl::unexpected(impl_.error(bind_rc_, what_));
      const int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      return tl::unexpected(impl_.error(rc, what_));
    }
    // Steps a statement that returns no rows; the number of rows it changed.
    Expected<std::size_t> run() {
      auto stepped = step();
      if (!stepped) return tl::unexpected(stepped.error());
      return static_cast<std::size_t>(sqlite3_changes(impl_.db_));
    }
    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    std::string text(int column) const {
      const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
      return data == nullptr ? std::string{} : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
    }
    std::string blob(int column) const {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
      return data == nullptr ? std::string{} : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
    }

   private:
    void keep(int rc) {
      if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    }
    Impl& impl_;
    sqlite3_stmt* stmt_;
    std::string_view what_;
    int index_ = 0;
    int bind_rc_ = SQLITE_OK;
  };

  explicit Impl(SqliteQueueOptions opts) : options(std::move(opts)) {}
  ~Impl() {
    statements.clear();
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Error error(int rc, std::string_view what) const { return sqlite_error(db_, rc, what, options.path); }

  UnixMillis now() const {
    if (options.clock) return options.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Expected<void> exec(const char* sql, std::string_view what) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    sqlite3_free(message);  // sqlite3_errmsg below says the same
    if (rc != SQLITE_OK) return tl::unexpected(error(rc, what));
    return {};
  }

  Expected<sqlite3_stmt*> prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return tl::unexpected(error(rc, std::string("prepare ") + sql));
    }
    statements.emplace_back(stmt);
    return stmt;
  }

  Expected<void> open_database();
  Expected<void> prepare_statements();
  Expected<void> migrate_record_rows();
  void writer_loop();
  void run_group(std::vector<Task>& tasks);

  // Queues a task for the writer; false when the queue is closed or too busy (error set).
  bool submit(Task task, Error& refused) {
    {
      std::lock_guard lock(mutex);
      if (stopping) {
        refused = Error{errc::io, "queue: closed", options.path.string()};
        return false;
      }
      if (pending.size() >= options.max_pending_operations) {
        refused = Error{errc::unavailable, "queue: too many operations waiting", options.path.string()};
        return false;
      }
      pending.push_back(std::move(task));
    }
    wake.notify_one();
    return true;
  }

  // Runs body on the writer thread inside a transaction and waits for the commit.
  template <class T, class Body>
  Expected<T> call(std::string_view what, Body body) {
    if (std::this_thread::get_id() == writer.get_id()) {
      return fail(errc::io, "queue: " + std::string(what) + " called from a queue callback (it would deadlock)");
    }
    // Shared: the writer may still be inside set_value when this thread wakes and returns.
    auto promise = std::make_shared<std::promise<Expected<T>>>();
    auto future = promise->get_future();
    auto result = std::make_shared<std::optional<T>>();
    Task task;
    task.run = [result, body = std::move(body)](std::int64_t& delta) -> Expected<void> {
      auto value = body(delta);
      if (!value) return tl::unexpected(value.error());
      result->emplace(std::move(*value));
      return {};
    };
    task.finish = [result, promise](const Error* err) {
      if (err != nullptr) promise->set_value(tl::unexpected(*err));
      else promise->set_value(std::move(**result));
    };
    Error refused;
    if (!submit(std::move(task), refused)) return tl::unexpected(refused);
    return future.get();
  }

  Expected<std::vector<RecordId>> select_dead_ids(const DeadLetterSelection& which) {
    if (!which.ids.empty()) return which.ids;
    std::vector<RecordId> ids;
    Query q(*this, select_dead_ids_stmt, "select dead letters");
    q.bind(which.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(which.limit));
    for (;;) {
      auto row = q.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      ids.push_back(q.integer(0));
    }
    return ids;
  }

  Expected<std::uint64_t> count_records() {
    Query q(*this, count_records_stmt, "count records");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    return static_cast<std::uint64_t>(q.integer(0));
  }

  SqliteQueueOptions options;
  sqlite3* db_ = nullptr;
  std::vector<Statement> statements;  // owns every prepared statement below
  sqlite3_stmt* begin_stmt = nullptr;
  sqlite3_stmt* commit_stmt = nullptr;
  sqlite3_stmt* rollback_stmt = nullptr;
  sqlite3_stmt* savepoint_stmt = nullptr;
  sqlite3_stmt* release_stmt = nullptr;
  sqlite3_stmt* rollback_to_stmt = nullptr;
  sqlite3_stmt* insert_chunk_stmt = nullptr;
  sqlite3_stmt* insert_chunk_with_id_stmt = nullptr;
  sqlite3_stmt* select_due_chunks_stmt = nullptr;
  sqlite3_stmt* select_chunk_stmt = nullptr;
  sqlite3_stmt* update_chunk_stmt = nullptr;
  sqlite3_stmt* delete_whole_chunk_stmt = nullptr;
  sqlite3_stmt* delete_chunk_stmt = nullptr;
  sqlite3_stmt* sync_full_stmt = nullptr;
  sqlite3_stmt* sync_normal_stmt = nullptr;
  sqlite3_stmt* insert_dead_stmt = nullptr;
  sqlite3_stmt* hold_stmt = nullptr;
  sqlite3_stmt* unhold_stmt = nullptr;
  sqlite3_stmt* held_stmt = nullptr;
  sqlite3_stmt* ready_partitions_stmt = nullptr;
  sqlite3_stmt* partition_stats_stmt = nullptr;
  sqlite3_stmt* count_records_stmt = nullptr;
  sqlite3_stmt* count_dead_stmt = nullptr;
  sqlite3_stmt* select_dead_ids_stmt = nullptr;
  sqlite3_stmt* select_dead_stmt = nullptr;
  sqlite3_stmt* delete_dead_stmt = nullptr;

  // ---- chunks ----

  // One stored chunk, its entries pointing into blob.
  struct StoredChunk {
    chunk::ChunkId id = 0;
    std::string api_key;
    std::string type;
    std::string blob;
    std::vector<chunk::Entry> entries;
    std::optional<Error> damage;  // the blob cannot be decoded: entries is empty
  };

  // The chunk with this id, if stored, decoded, or with what is wrong with its blob.
  Expected<std::optional<StoredChunk>> read_any_chunk(chunk::ChunkId id) {
    Query q(*this, select_chunk_stmt, "read chunk");
    auto row = q.bind(id).step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<StoredChunk>{};
    StoredChunk c;
    c.id = id;
    c.api_key = q.text(0);
    c.type = q.text(1);
    c.blob = q.blob(2);
    auto entries = chunk::decode(c.blob);
    if (entries) c.entries = std::move(*entries);
    else c.damage = Error{entries.error().code, entries.error().message + " (chunk " + std::to_string(id) + ")", options.path.string()};
    return std::optional<StoredChunk>(std::move(c));
  }

  // The chunk with this id, if stored; one that cannot be decoded is an error naming it (lease() moves such a
  // chunk aside, so it cannot stop its partition for good).
  Expected<std::optional<StoredChunk>> read_chunk(chunk::ChunkId id) {
    auto stored = read_any_chunk(id);
    if (stored && *stored && (*stored)->damage) return tl::unexpected(*(*stored)->damage);
    return stored;
  }

  // Moves a chunk that cannot be decoded to the dead-letter store as one entry: id chunk<<7|127 (a slot no
  // record uses), its bytes in hex as the text, the damage as the reason. Returns the records it counted.
  Expected<std::uint64_t> quarantine_chunk(const StoredChunk& damaged, std::uint64_t count) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * damaged.blob.size());
    for (unsigned char c : damaged.blob) {
      hex.push_back(kHex[c >> 4]);
      hex.push_back(kHex[c & 15]);
    }
    const std::string reason = "damaged chunk of " + std::to_string(count) + " records: " + damaged.damage->message;
    const UnixMillis at = now();
    Query dead(*this, insert_dead_stmt, "store damaged chunk");
    dead.bind(chunk::record_id(damaged.id, (1u << chunk::kSlotBits) - 1)).bind(damaged.api_key).bind(damaged.type);
    dead.bind(hex).bind(std::int64_t{0}).bind(at).bind(reason).bind(at);
    if (auto r = dead.run(); !r) return tl::unexpected(r.error());
    Query remove(*this, delete_chunk_stmt, "delete damaged chunk");
    if (auto r = remove.bind(damaged.id).run(); !r) return tl::unexpected(r.error());
    spdlog::error("queue: {} (key {}, type {}); moved to the dead-letter store so the rest can flow", reason,
                  obs::key_fingerprint(damaged.api_key), damaged.type);
    return count;
  }

  // A chunk's summary columns: the earliest next attempt and the oldest creation of its (non-empty) entries.
  static std::pair<std::int64_t, std::int64_t> earliest_times(const std::vector<chunk::Entry>& entries) {
    std::int64_t next = entries.front().next_attempt_at;
    std::int64_t created = entries.front().created_at;
    for (const auto& e : entries) {
      next = std::min(next, e.next_attempt_at);
      created = std::min(created, e.created_at);
    }
    return {next, created};
  }

  // Stores what is left of a chunk: deleted when nothing is, else its entries and summary columns rewritten.
  Expected<void> rewrite_chunk(chunk::ChunkId id, const std::vector<chunk::Entry>& entries) {
    if (entries.empty()) {
      Query q(*this, delete_chunk_stmt, "delete chunk");
      if (auto r = q.bind(id).run(); !r) return tl::unexpected(r.error());
      return {};
    }
    const auto [next, created] = earliest_times(entries);
    const std::string blob = chunk::encode(entries);
    Query q(*this, update_chunk_stmt, "rewrite chunk");
    q.bind(static_cast<std::int64_t>(entries.size())).bind(next).bind(created).bind_blob(blob).bind(id);
    if (auto r = q.run(); !r) return tl::unexpected(r.error());
    return {};
  }

  // Inserts a chunk of entries (slots as given); with an id, only if that id is free. The new chunk's id, or
  // nullopt when the id was taken.
  Expected<std::optional<chunk::ChunkId>> insert_chunk(std::string_view api_key, std::string_view type,
                                                       const std::vector<chunk::Entry>& entries,
                                                       std::optional<chunk::ChunkId> id = std::nullopt) {
    const auto [next, created] = earliest_times(entries);
    const std::string blob = chunk::encode(entries);
    Query q(*this, id ? insert_chunk_with_id_stmt : insert_chunk_stmt, "insert chunk");
    if (id) q.bind(*id);
    q.bind(api_key).bind(type).bind(static_cast<std::int64_t>(entries.size())).bind(next).bind(created).bind_blob(blob);
    auto changed = q.run();
    if (!changed) return tl::unexpected(changed.error());
    if (*changed == 0) return std::optional<chunk::ChunkId>{};
    return std::optional<chunk::ChunkId>(sqlite3_last_insert_rowid(db_));
  }

  // Puts a record back under its own id: into its chunk if that is still stored (other records of it wait),
  // else as a chunk of its own with that chunk's id; a new id only if that id is taken by another partition.
  Expected<void> put_back(RecordId id, std::string_view api_key, std::string_view type, chunk::Entry entry) {
    const chunk::ChunkId chunk_id = chunk::chunk_of(id);
    auto stored = read_chunk(chunk_id);
    if (!stored) return tl::unexpected(stored.error());
    if (*stored && (*stored)->api_key == api_key && (*stored)->type == type) {
      auto entries = (*stored)->entries;
      auto at = std::lower_bound(entries.begin(), entries.end(), entry.slot,
                                 [](const chunk::Entry& e, unsigned slot) { return e.slot < slot; });
      if (at == entries.end() || at->slot != entry.slot) {
        entries.insert(at, entry);
        return rewrite_chunk(chunk_id, entries);
      }
    } else if (!*stored) {
      auto inserted = insert_chunk(api_key, type, {entry}, chunk_id);
      if (!inserted) return tl::unexpected(inserted.error());
      if (*inserted) return {};
    }
    entry.slot = 0;
    auto inserted = insert_chunk(api_key, type, {entry});
    if (!inserted) return tl::unexpected(inserted.error());
    return {};
  }

  // Record ids grouped by chunk, each group's slots ascending and without repeats.
  static std::map<chunk::ChunkId, std::vector<RecordId>> by_chunk(const std::vector<RecordId>& ids) {
    std::map<chunk::ChunkId, std::vector<RecordId>> groups;
    for (RecordId id : ids) {
      if (id < 0) continue;  // never handed out
      groups[chunk::chunk_of(id)].push_back(id);
    }
    for (auto& [chunk_id, group] : groups) {
      std::sort(group.begin(), group.end());
      group.erase(std::unique(group.begin(), group.end()), group.end());
    }
    return groups;
  }

  // ---- leases (writer thread only) ----

  struct Lease {
    UnixMillis until = 0;
    std::uint32_t partition = 0;  // index into partition_names
  };
  std::unordered_map<RecordId, Lease> leases;
  std::unordered_map<chunk::ChunkId, std::uint32_t> leased_in_chunk;  // live leases per chunk
  UnixMillis earliest_lease_end = std::numeric_limits<UnixMillis>::max();  // no lease ends sooner
  std::unordered_map<std::string, std::uint32_t> partition_ids;
  std::vector<std::string> partition_names;
  bool synchronous_full = false;  // the connection's current PRAGMA synchronous

  static std::string partition_name(std::string_view api_key, std::string_view type) {
    std::string name(type);
    name.push_back('\n');  // cannot occur in a type name
    name.append(api_key);
    return name;
  }
  std::uint32_t partition_id(const std::string& name) {
    auto [it, added] = partition_ids.try_emplace(name, static_cast<std::uint32_t>(partition_names.size()));
    if (added) partition_names.push_back(name);
    return it->second;
  }
  void add_lease(RecordId id, Lease lease) {
    if (leases.insert_or_assign(id, lease).second) ++leased_in_chunk[chunk::chunk_of(id)];
    earliest_lease_end = std::min(earliest_lease_end, lease.until);
  }
  // True when the record was leased.
  bool drop_lease(RecordId id) {
    if (leases.erase(id) == 0) return false;
    auto it = leased_in_chunk.find(chunk::chunk_of(id));
    if (it != leased_in_chunk.end() && --it->second == 0) leased_in_chunk.erase(it);
    return true;
  }
  // Ends the leases that ran out: their records are due again. Leases last minutes, so the walk over them
  // (at most the records in flight) is taken only once the earliest may have ended.
  void expire_leases(UnixMillis now) {
    if (now < earliest_lease_end) return;
    earliest_lease_end = std::numeric_limits<UnixMillis>::max();
    for (auto it = leases.begin(); it != leases.end();) {
      if (it->second.until > now) {
        earliest_lease_end = std::min(earliest_lease_end, it->second.until);
        ++it;
        continue;
      }
      auto counter = leased_in_chunk.find(chunk::chunk_of(it->first));
      if (counter != leased_in_chunk.end() && --counter->second == 0) leased_in_chunk.erase(counter);
      it = leases.erase(it);
    }
  }

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Task> pending;
  bool stopping = false;
  std::thread writer;
  std::atomic<std::uint64_t> depth{0};
  std::atomic<std::uint64_t> commits{0};
};

Expected<void> SqliteQueue::Impl::open_database() {
  const auto& path = options.path;
  if (options.create_if_missing && path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return fail(errc::io, "queue: cannot create directory " + path.parent_path().string() + ": " + ec.message(), path.string());
  }
  if (!options.create_if_missing) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return fail(errc::io, "queue: no queue database at " + path.string(), path.string());
  }
  // NOMUTEX: only the writer thread uses the connection once it is open.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(error(rc, "open " + path.string()));
  sqlite3_extended_result_codes(db_, 1);
  rc = sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
  if (rc != SQLITE_OK) return tl::unexpected(error(rc, "set busy timeout"));

  // journal_mode answers with the mode in force: a file system without shared memory may refuse WAL.
  {
    auto stmt = prepare("PRAGMA journal_mode=WAL");
    if (!stmt) return tl::unexpected(stmt.error());
    Query q(*this, *stmt, "set WAL mode");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row || q.text(0) != "wal") return fail(errc::io, "queue: the database refused WAL mode", path.string());
  }
  // Both settings keep a commit through SIGKILL in WAL mode; FULL also syncs the WAL for power loss.
  if (auto r = exec(options.durability == Durability::power_loss ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                    "set synchronous");
      !r) {
    return r;
  }
  return exec(
      "CREATE TABLE IF NOT EXISTS chunks("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"  // AUTOINCREMENT: a chunk id (so a record id) is never reused
      "  api_key TEXT NOT NULL, type TEXT NOT NULL,"
      "  count INTEGER NOT NULL,"            // records in the chunk
      "  next_attempt_at INTEGER NOT NULL,"  // the earliest of its records'
      "  created_at INTEGER NOT NULL,"       // the oldest of its records'
      "  records BLOB NOT NULL);"            // last: reading the columns before it never reads its overflow pages
      // Covers both the lease scan (in order) and the ready-partition count without touching the table.
      "CREATE INDEX IF NOT EXISTS chunks_due ON chunks(api_key, type, next_attempt_at, id, count, created_at);"
      "CREATE TABLE IF NOT EXISTS dead_letters("
      "  id INTEGER PRIMARY KEY, api_key TEXT NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL,"
      "  attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, reason TEXT NOT NULL, dead_at INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS held_keys("
      "  api_key TEXT PRIMARY KEY, reason TEXT NOT NULL, held_at INTEGER NOT NULL);",
      "create tables");
}

// Databases written before chunks kept one row per record in a table "records": each becomes a chunk of its
// own (new ids, same attempts and times), in one transaction, so an upgrade loses nothing that was queued.
Expected<void> SqliteQueue::Impl::migrate_record_rows() {
  {
    auto probe = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'");
    if (!probe) return tl::unexpected(probe.error());
    Query q(*this, *probe, "look for a records table");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
  }
  auto select = prepare("SELECT api_key, type, json, attempts, next_attempt_at, created_at FROM records ORDER BY id");
  if (!select) return tl::unexpected(select.error());
  if (auto r = exec("BEGIN IMMEDIATE", "begin migration"); !r) return r;
  std::uint64_t moved = 0;
  auto copy = [&]() -> Expected<void> {
    Query q(*this, *select, "read records to migrate");
    for (;;) {
      auto row = q.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return {};
      const std::string json = q.text(2);
      const chunk::Entry entry{0, static_cast<std::uint32_t>(q.integer(3)), q.integer(4), q.integer(5), json};
      auto inserted = insert_chunk(q.text(0), q.text(1), {entry});
      if (!inserted) return tl::unexpected(inserted.error());
      ++moved;
    }
  };
  auto copied = copy();
  if (copied) copied = exec("DROP TABLE records", "drop the records table");
  if (copied) copied = exec("COMMIT", "commit migration");
  if (!copied) {
    (void)exec("ROLLBACK", "roll back migration");
    return copied;
  }
  spdlog::info("queue: moved {} records into chunks (the queue's new layout)", moved);
  return {};
}

Expected<void> SqliteQueue::Impl::prepare_statements() {
  struct Entry {
    sqlite3_stmt** slot;
    const char* sql;
  };
  const Entry entries[] = {
      {&begin_stmt, "BEGIN IMMEDIATE"},
      {&commit_stmt, "COMMIT"},
      {&rollback_stmt, "ROLLBACK"},
      {&savepoint_stmt, "SAVEPOINT operation"},
      {&release_stmt, "RELEASE operation"},
      {&rollback_to_stmt, "ROLLBACK TO operation"},
      {&insert_chunk_stmt,
       "INSERT INTO chunks(api_key, type, count, next_attempt_at, created_at, records) VALUES(?, ?, ?, ?, ?, ?)"},
      {&insert_chunk_with_id_stmt,
       "INSERT OR IGNORE INTO chunks(id, api_key, type, count, next_attempt_at, created_at, records)"
       " VALUES(?, ?, ?, ?, ?, ?, ?)"},
      {&select_due_chunks_stmt,
       "SELECT id, count FROM chunks WHERE api_key = ? AND type = ? AND next_attempt_at <= ?"
       " ORDER BY next_attempt_at, id"},
      {&select_chunk_stmt, "SELECT api_key, type, records FROM chunks WHERE id = ?"},
      {&update_chunk_stmt, "UPDATE chunks SET count = ?, next_attempt_at = ?, created_at = ?, records = ? WHERE id = ?"},
      {&delete_whole_chunk_stmt, "DELETE FROM chunks WHERE id = ? AND count = ?"},
      {&delete_chunk_stmt, "DELETE FROM chunks WHERE id = ?"},
      {&sync_full_stmt, "PRAGMA synchronous=FULL"},
      {&sync_normal_stmt, "PRAGMA synchronous=NORMAL"},
      {&insert_dead_stmt,
       "INSERT OR REPLACE INTO dead_letters(id, api_key, type, json, attempts, created_at, reason, dead_at)"
       " VALUES(?, ?, ?, ?, ?, ?, ?, ?)"},
      {&hold_stmt, "INSERT OR REPLACE INTO held_keys(api_key, reason, held_at) VALUES(?, ?, ?)"},
      {&unhold_stmt, "DELETE FROM held_keys WHERE api_key = ?"},
      {&held_stmt, "SELECT api_key, reason, held_at FROM held_keys ORDER BY held_at, api_key"},
      {&ready_partitions_stmt,
       "SELECT api_key, type, SUM(count) FROM chunks WHERE next_attempt_at <= ?"
       " AND api_key NOT IN (SELECT api_key FROM held_keys) GROUP BY api_key, type ORDER BY MIN(created_at)"},
      {&partition_stats_stmt,
       "SELECT api_key, type, SUM(count), MIN(created_at) FROM chunks GROUP BY api_key, type ORDER BY api_key, type"},
      {&count_records_stmt, "SELECT COALESCE(SUM(count), 0) FROM chunks"},
      {&count_dead_stmt, "SELECT COUNT(*) FROM dead_letters"},
      {&select_dead_ids_stmt, "SELECT id FROM dead_letters ORDER BY id LIMIT ?"},
      {&select_dead_stmt,
       "SELECT id, api_key, type, json, attempts, created_at, reason, dead_at FROM dead_letters WHERE id = ?"},
      {&delete_dead_stmt, "DELETE FROM dead_letters WHERE id = ?"},
  };
  for (const auto& entry : entries) {
    auto stmt = prepare(entry.sql);
    if (!stmt) return tl::unexpected(stmt.error());
    *entry.slot = *stmt;
  }
  return {};
}

void SqliteQueue::Impl::run_group(std::vector<Task>& tasks) {
  std::vector<std::optional<Error>> failures(tasks.size());
  std::optional<Error> group_failure;
  std::int64_t depth_delta = 0;

  auto step_control = [this](sqlite3_stmt* stmt, std::string_view what) -> Expected<void> {
    Query q(*this, stmt, what);
    auto r = q.step();
    if (!r) return tl::unexpected(r.error());
    return {};
  };

  const bool want_full = options.durability == Durability::power_loss &&
                         std::any_of(tasks.begin(), tasks.end(), [](const Task& t) { return t.durable; });
  if (want_full != synchronous_full) {
    if (auto set = step_control(want_full ? sync_full_stmt : sync_normal_stmt, "set synchronous"); !set) {
      group_failure = set.error();
    } else {
      synchronous_full = want_full;
    }
  }
  if (group_failure) {
    // nothing was begun
  } else if (auto begun = step_control(begin_stmt, "begin transaction"); !begun) {
    group_failure = begun.error();
  } else {
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      if (auto sp = step_control(savepoint_stmt, "savepoint"); !sp) {
        group_failure = sp.error();
        break;
      }
      std::int64_t delta = 0;
      auto ran = tasks[i].run(delta);
      if (ran) {
        depth_delta += delta;
        if (auto released = step_control(release_stmt, "release savepoint"); !released) {
          group_failure = released.error();
          break;
        }
        continue;
      }
      failures[i] = ran.error();
      // Some errors (disk full, I/O) make SQLite roll the whole transaction back: then nothing is committed.
      if (sqlite3_get_autocommit(db_) != 0) {
        group_failure = ran.error();
        break;
      }
      auto undone = step_control(rollback_to_stmt, "roll back savepoint");
      auto released = undone ? step_control(release_stmt, "release savepoint") : undone;
      if (!released) {
        group_failure = released.error();
        break;
      }
    }
    if (!group_failure) {
      if (auto committed = step_control(commit_stmt, "commit"); !committed) group_failure = committed.error();
    }
    if (group_failure && sqlite3_get_autocommit(db_) == 0) {
      if (auto rolled = step_control(rollback_stmt, "roll back"); !rolled) {
        spdlog::error("{}", rolled.error().message);
      }
    }
  }

  if (group_failure) {
    spdlog::error("{}", group_failure->message);
  } else {
    commits.fetch_add(1, std::memory_order_relaxed);
    if (depth_delta >= 0) {
      depth.fetch_add(static_cast<std::uint64_t>(depth_delta), std::memory_order_relaxed);
    } else {
      const auto drop = static_cast<std::uint64_t>(-depth_delta);
      std::uint64_t current = depth.load(std::memory_order_relaxed);
      while (!depth.compare_exchange_weak(current, current >= drop ? current - drop : 0, std::memory_order_relaxed)) {
      }
    }
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const Error* err = group_failure ? &*group_failure : (failures[i] ? &*failures[i] : nullptr);
    try {
      tasks[i].finish(err);
    } catch (const std::exception& e) {
      spdlog::error("queue: a completion callback threw: {}", obs::redact_pii(e.what()));
    } catch (...) {
      spdlog::error("queue: a completion callback threw");
    }
  }
}

void SqliteQueue::Impl::writer_loop() {
  std::vector<Task> group;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [this] { return stopping || !pending.empty(); });
      if (pending.empty()) return;  // stopping, and everything has been done
      // Group commit: take everything that queued up while the last transaction was being synced.
      std::size_t records = 0;
      while (!pending.empty() && (group.empty() || records + pending.front().records <= options.max_records_per_transaction)) {
        records += pending.front().records;
        group.push_back(std::move(pending.front()));
        pending.pop_front();
      }
    }
    run_group(group);
    // Now, not at the next wake-up: the callbacks may hold what their callers wait to see released (a server
    // connection held by an ingest answer would otherwise count as open until the next operation).
    group.clear();
  }
}

Expected<std::unique_ptr<SqliteQueue>> SqliteQueue::open(SqliteQueueOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto r = impl->open_database(); !r) return tl::unexpected(r.error());
  if (auto r = impl->prepare_statements(); !r) return tl::unexpected(r.error());
  if (auto r = impl->migrate_record_rows(); !r) return tl::unexpected(r.error());
  auto depth = impl->count_records();
  if (!depth) return tl::unexpected(depth.error());
  impl->depth = *depth;
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->writer_loop(); });
  return std::unique_ptr<SqliteQueue>(new SqliteQueue(std::move(impl)));
}

SqliteQueue::SqliteQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteQueue::~SqliteQueue() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

void SqliteQueue::enqueue(std::vector<NewRecord> records, EnqueueDone done) {
  if (records.empty()) {
    done(std::vector<RecordId>{});
    return;
  }
  if (records.size() > impl_->options.max_records_per_enqueue) {
    done(fail(errc::too_large, "queue: " + std::to_string(records.size()) + " records in one enqueue, at most " +
                                   std::to_string(impl_->options.max_records_per_enqueue)));
    return;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (auto fits = ometria::check_record_size(records[i].json.size(), errc::too_large); !fits) {
      done(tl::unexpected(std::move(fits.error())));
      return;
    }
  }
  auto ids = std::make_shared<std::vector<RecordId>>();
  auto shared_done = std::make_shared<EnqueueDone>(std::move(done));
  Impl::Task task;
  task.records = records.size();
  task.durable = true;
  task.run = [impl = impl_.get(), ids, records = std::move(records)](std::int64_t& delta) -> Expected<void> {
    const UnixMillis now = impl->now();
    ids->assign(records.size(), 0);
    // The records of each (api key, type), in the order given, cut into chunks.
    std::vector<std::vector<std::size_t>> partitions;
    std::unordered_map<std::string, std::size_t> partition_of;
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto name = Impl::partition_name(records[i].api_key, ometria::to_string(records[i].type));
      auto [it, added] = partition_of.try_emplace(std::move(name), partitions.size());
      if (added) partitions.emplace_back();
      partitions[it->second].push_back(i);
    }
    std::vector<chunk::Entry> entries;
    for (const auto& members : partitions) {
      const auto& first = records[members.front()];
      for (std::size_t from = 0; from < members.size(); from += chunk::kRecordsPerChunk) {
        const std::size_t to = std::min(members.size(), from + chunk::kRecordsPerChunk);
        entries.clear();
        for (std::size_t m = from; m < to; ++m) {
          entries.push_back(chunk::Entry{static_cast<unsigned>(m - from), 0, now, now, records[members[m]].json});
        }
        auto chunk_id = impl->insert_chunk(first.api_key, ometria::to_string(first.type), entries);
        if (!chunk_id) return tl::unexpected(chunk_id.error());
        for (std::size_t m = from; m < to; ++m) (*ids)[members[m]] = chunk::record_id(**chunk_id, static_cast<unsigned>(m - from));
      }
    }
    delta = static_cast<std::int64_t>(records.size());
    return {};
  };
  task.finish = [ids, shared_done](const Error* err) {
    if (err != nullptr) (*shared_done)(tl::unexpected(*err));
    else (*shared_done)(std::move(*ids));
  };
  Error refused;
  if (!impl_->submit(std::move(task), refused)) (*shared_done)(tl::unexpected(refused));
}

Expected<Leased> SqliteQueue::lease(const std::string& api_key, RecordType type, std::size_t max,
                                                       std::chrono::milliseconds lease_for) {
  return impl_->call<Leased>("lease", [impl = impl_.get(), &api_key, type, max, lease_for](std::int64_t& delta)
                                                           -> Expected<Leased> {
    const UnixMillis now = impl->now();
    impl->expire_leases(now);
    const std::string type_name(ometria::to_string(type));
    const Impl::Lease lease{now + std::max<std::int64_t>(lease_for.count(), 1),
                            impl->partition_id(Impl::partition_name(api_key, type_name))};
    Leased result;
    auto& leased = result.records;
    // Chunks with due records come oldest first; those whose records are all leased are skipped unread.
    Impl::Query due(*impl, impl->select_due_chunks_stmt, "select due chunks");
    due.bind(api_key).bind(type_name).bind(now);
    while (leased.size() < max) {
      auto row = due.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      const chunk::ChunkId chunk_id = due.integer(0);
      const auto count = static_cast<std::uint64_t>(due.integer(1));
      auto in_chunk = impl->leased_in_chunk.find(chunk_id);
      if (in_chunk != impl->leased_in_chunk.end() && in_chunk->second >= count) continue;
      auto stored = impl->read_any_chunk(chunk_id);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      if ((*stored)->damage) {
        auto moved = impl->quarantine_chunk(**stored, count);
        if (!moved) return tl::unexpected(moved.error());
        delta -= static_cast<std::int64_t>(*moved);
        continue;
      }
      std::vector<const chunk::Entry*> free;
      for (const auto& e : (*stored)->entries) {
        if (e.next_attempt_at <= now && !impl->leases.contains(chunk::record_id(chunk_id, e.slot))) free.push_back(&e);
      }
      if (free.empty()) continue;
      // Whole chunks, so that the push's acknowledgement deletes whole rows; a chunk is split only when it
      // alone is more than was asked for.
      if (!leased.empty() && leased.size() + free.size() > max) {
        result.more_due = true;
        break;
      }
      for (const chunk::Entry* e : free) {
        if (leased.size() >= max) {
          result.more_due = true;
          break;
        }
        QueuedRecord r;
        r.id = chunk::record_id(chunk_id, e->slot);
        r.api_key = api_key;
        r.type = type;
        r.json = std::string(e->json);
        r.attempts = e->attempts;
        r.next_attempt_at = e->next_attempt_at;
        r.created_at = e->created_at;
        impl->add_lease(r.id, lease);
        leased.push_back(std::move(r));
      }
    }
    return result;
  });
}

Expected<std::size_t> SqliteQueue::ack(const std::vector<RecordId>& ids) {
  return impl_->call<std::size_t>("ack", [impl = impl_.get(), &ids](std::int64_t& delta) -> Expected<std::size_t> {
    std::size_t removed = 0;
    for (const auto& [chunk_id, group] : Impl::by_chunk(ids)) {
      bool all_leased = true;
      for (RecordId id : group) all_leased = impl->drop_lease(id) && all_leased;
      // Leased records are stored ones: when they are as many as the chunk holds, they are all of it.
      if (all_leased) {
        Impl::Query whole(*impl, impl->delete_whole_chunk_stmt, "delete chunk");
        auto deleted = whole.bind(chunk_id).bind(static_cast<std::int64_t>(group.size())).run();
        if (!deleted) return tl::unexpected(deleted.error());
        if (*deleted == 1) {
          removed += group.size();
          continue;
        }
      }
      auto stored = impl->read_chunk(chunk_id);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      std::vector<chunk::Entry> kept;
      for (const auto& e : (*stored)->entries) {
        if (!std::binary_search(group.begin(), group.end(), chunk::record_id(chunk_id, e.slot))) kept.push_back(e);
      }
      if (kept.size() == (*stored)->entries.size()) continue;
      removed += (*stored)->entries.size() - kept.size();
      if (auto r = impl->rewrite_chunk(chunk_id, kept); !r) return tl::unexpected(r.error());
    }
    delta = -static_cast<std::int64_t>(removed);
    return removed;
  });
}

Expected<std::size_t> SqliteQueue::reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay) {
  return impl_->call<std::size_t>("reschedule", [impl = impl_.get(), &ids, delay](std::int64_t&) -> Expected<std::size_t> {
    const UnixMillis due = impl->now() + std::max<std::int64_t>(delay.count(), 0);
    std::size_t changed = 0;
    for (const auto& [chunk_id, group] : Impl::by_chunk(ids)) {
      for (RecordId id : group) impl->drop_lease(id);
      auto stored = impl->read_chunk(chunk_id);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      auto entries = (*stored)->entries;
      std::size_t here = 0;
      for (auto& e : entries) {
        if (!std::binary_search(group.begin(), group.end(), chunk::record_id(chunk_id, e.slot))) continue;
        ++e.attempts;
        e.next_attempt_at = due;
        ++here;
      }
      if (here == 0) continue;
      changed += here;
      if (auto r = impl->rewrite_chunk(chunk_id, entries); !r) return tl::unexpected(r.error());
    }
    return changed;
  });
}

Expected<std::size_t> SqliteQueue::dead_letter(const std::vector<RecordId>& ids, const std::string& reason) {
  return impl_->call<std::size_t>("dead_letter", [impl = impl_.get(), &ids, &reason](std::int64_t& delta) -> Expected<std::size_t> {
    const UnixMillis now = impl->now();
    std::size_t moved = 0;
    for (const auto& [chunk_id, group] : Impl::by_chunk(ids)) {
      for (RecordId id : group) impl->drop_lease(id);
      auto stored = impl->read_chunk(chunk_id);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      std::vector<chunk::Entry> kept;
      for (const auto& e : (*stored)->entries) {
        const RecordId id = chunk::record_id(chunk_id, e.slot);
        if (!std::binary_search(group.begin(), group.end(), id)) {
          kept.push_back(e);
          continue;
        }
        Impl::Query q(*impl, impl->insert_dead_stmt, "store dead letter");
        q.bind(id).bind((*stored)->api_key).bind((*stored)->type).bind(e.json);
        q.bind(static_cast<std::int64_t>(e.attempts) + 1).bind(e.created_at).bind(reason).bind(now);
        if (auto r = q.run(); !r) return tl::unexpected(r.error());
        ++moved;
      }
      if (kept.size() == (*stored)->entries.size()) continue;
      if (auto r = impl->rewrite_chunk(chunk_id, kept); !r) return tl::unexpected(r.error());
    }
    delta = -static_cast<std::int64_t>(moved);
    return moved;
  });
}

Expected<void> SqliteQueue::hold_key(const std::string& api_key, const std::string& reason) {
  auto r = impl_->call<bool>("hold_key", [impl = impl_.get(), &api_key, &reason](std::int64_t&) -> Expected<bool> {
    Impl::Query q(*impl, impl->hold_stmt, "hold key");
    if (auto ran = q.bind(api_key).bind(reason).bind(impl->now()).run(); !ran) return tl::unexpected(ran.error());
    return true;
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Expected<void> SqliteQueue::unhold_key(const std::string& api_key) {
  auto r = impl_->call<bool>("unhold_key", [impl = impl_.get(), &api_key](std::int64_t&) -> Expected<bool> {
    Impl::Query q(*impl, impl->unhold_stmt, "unhold key");
    if (auto ran = q.bind(api_key).run(); !ran) return tl::unexpected(ran.error());
    return true;
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

namespace {

template <class Impl>
Expected<std::vector<HeldKey>> read_held_keys(Impl& impl) {
  std::vector<HeldKey> held;
  typename Impl::Query q(impl, impl.held_stmt, "list held keys");
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    held.push_back(HeldKey{q.text(0), q.text(1), q.integer(2)});
  }
  return held;
}

}  // namespace

Expected<std::vector<HeldKey>> SqliteQueue::held_keys() {
  return impl_->call<std::vector<HeldKey>>("held_keys", [impl = impl_.get()](std::int64_t&) { return read_held_keys(*impl); });
}

Expected<std::vector<ReadyPartition>> SqliteQueue::ready_partitions() {
  return impl_->call<std::vector<ReadyPartition>>(
      "ready_partitions", [impl = impl_.get()](std::int64_t&) -> Expected<std::vector<ReadyPartition>> {
        const UnixMillis now = impl->now();
        impl->expire_leases(now);
        std::vector<std::uint64_t> leased_per_partition(impl->partition_names.size(), 0);
        for (const auto& [id, lease] : impl->leases) ++leased_per_partition[lease.partition];
        std::vector<ReadyPartition> ready;
        Impl::Query q(*impl, impl->ready_partitions_stmt, "list ready partitions");
        q.bind(now);
        for (;;) {
          auto row = q.step();
          if (!row) return tl::unexpected(row.error());
          if (!*row) break;
          auto type = ometria::record_type_from(q.text(1));
          if (!type) return fail(errc::io, "queue: a record has an unknown type \"" + q.text(1) + "\"", impl->options.path.string());
          const auto due = static_cast<std::uint64_t>(q.integer(2));
          auto known = impl->partition_ids.find(Impl::partition_name(q.text(0), q.text(1)));
          const auto leased = known == impl->partition_ids.end() ? 0 : leased_per_partition[known->second];
          // A leased record may have been rescheduled into the future meanwhile; never count below zero.
          if (due > leased) ready.push_back(ReadyPartition{q.text(0), *type, due - leased});
        }
        return ready;
      });
}

Expected<QueueStats> SqliteQueue::stats() {
  auto stats = impl_->call<QueueStats>("stats", [impl = impl_.get()](std::int64_t&) -> Expected<QueueStats> {
    QueueStats s;
    {
      Impl::Query q(*impl, impl->partition_stats_stmt, "queue stats");
      for (;;) {
        auto row = q.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        auto type = ometria::record_type_from(q.text(1));
        if (!type) return fail(errc::io, "queue: a record has an unknown type \"" + q.text(1) + "\"", impl->options.path.string());
        PartitionStats p{q.text(0), *type, static_cast<std::uint64_t>(q.integer(2)), q.integer(3)};
        s.depth += p.depth;
        if (!s.oldest_created_at || p.oldest_created_at < *s.oldest_created_at) s.oldest_created_at = p.oldest_created_at;
        s.partitions.push_back(std::move(p));
      }
    }
    {
      Impl::Query q(*impl, impl->count_dead_stmt, "count dead letters");
      auto row = q.step();
      if (!row) return tl::unexpected(row.error());
      s.dead_letters = static_cast<std::uint64_t>(q.integer(0));
    }
    auto held = read_held_keys(*impl);
    if (!held) return tl::unexpected(held.error());
    s.held_keys = std::move(*held);
    return s;
  });
  // Another process (the CLI) may have replayed records: the exact count re-syncs the cheap counter.
  if (stats) impl_->depth.store(stats->depth, std::memory_order_relaxed);
  return stats;
}

std::uint64_t SqliteQueue::depth() const { return impl_->depth.load(std::memory_order_relaxed); }
std::uint64_t SqliteQueue::high_water_mark() const { return impl_->options.high_water_mark; }
std::uint64_t SqliteQueue::commits() const { return impl_->commits.load(std::memory_order_relaxed); }

Expected<std::vector<DeadRecord>> SqliteQueue::dead_letters(const DeadLetterSelection& which) {
  return impl_->call<std::vector<DeadRecord>>(
      "dead_letters", [impl = impl_.get(), &which](std::int64_t&) -> Expected<std::vector<DeadRecord>> {
        auto ids = impl->select_dead_ids(which);
        if (!ids) return tl::unexpected(ids.error());
        std::vector<DeadRecord> dead;
        for (RecordId id : *ids) {
          Impl::Query q(*impl, impl->select_dead_stmt, "read dead letter");
          auto row = q.bind(id).step();
          if (!row) return tl::unexpected(row.error());
          if (!*row) continue;
          auto type = ometria::record_type_from(q.text(2));
          if (!type) return fail(errc::io, "queue: a dead letter has an unknown type \"" + q.text(2) + "\"", impl->options.path.string());
          DeadRecord d;
          d.record.id = q.integer(0);
          d.record.api_key = q.text(1);
          d.record.type = *type;
          d.record.json = q.text(3);
          d.record.attempts = static_cast<std::uint32_t>(q.integer(4));
          d.record.created_at = q.integer(5);
          d.reason = q.text(6);
          d.dead_at = q.integer(7);
          dead.push_back(std::move(d));
        }
        return dead;
      });
}

Expected<std::size_t> SqliteQueue::replay(const DeadLetterSelection& which) {
  return impl_->call<std::size_t>("replay", [impl = impl_.get(), &which](std::int64_t& delta) -> Expected<std::size_t> {
    auto ids = impl->select_dead_ids(which);
    if (!ids) return tl::unexpected(ids.error());
    const UnixMillis now = impl->now();
    std::size_t replayed = 0;
    for (RecordId id : *ids) {
      Impl::Query dead(*impl, impl->select_dead_stmt, "read dead letter");
      auto row = dead.bind(id).step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) continue;
      const std::string api_key = dead.text(1);
      const std::string type = dead.text(2);
      const std::string json = dead.text(3);
      const chunk::Entry entry{chunk::slot_of(id), 0, now, dead.integer(5), json};
      if (auto r = impl->put_back(id, api_key, type, entry); !r) return tl::unexpected(r.error());
      Impl::Query remove(*impl, impl->delete_dead_stmt, "delete replayed dead letter");
      if (auto r = remove.bind(id).run(); !r) return tl::unexpected(r.error());
      ++replayed;
    }
    delta = static_cast<std::int64_t>(replayed);
    return replayed;
  });
}

Expected<std::size_t> SqliteQueue::purge(const DeadLetterSelection& which) {
  return impl_->call<std::size_t>("purge", [impl = impl_.get(), &which](std::int64_t&) -> Expected<std::size_t> {
    auto ids = impl->select_dead_ids(which);
    if (!ids) return tl::unexpected(ids.error());
    std::size_t purged = 0;
    for (RecordId id : *ids) {
      Impl::Query q(*impl, impl->delete_dead_stmt, "purge dead letter");
      auto r = q.bind(id).run();
      if (!r) return tl::unexpected(r.error());
      purged += *r;
    }
    return purged;
  });
}

}  // namespace omt::queue
