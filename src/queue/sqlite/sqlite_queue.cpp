// The SQLite queue's operations. Each runs as one task of the group-commit writer (group_commit.hpp), inside
// the shared transaction, on the writer's thread, which alone uses the connection, the stores and the lease
// table. Records are stored in chunks (record_chunk.hpp, chunk_store.hpp): one row per enqueue and (api key,
// type), so a push's worth of records is stored, leased and deleted with a few B-tree operations; the writer
// thread is the pipeline's narrowest point, and per-record rows made it spend most of its time walking B-trees.
// Leases live in memory (lease_table.hpp): they matter only to the running process, and a restart must hand
// every unacked record out again anyway. Each chunk names its lane (queue::Lane); what leaves a partition by ack
// or dead-letter is counted in lane_totals in the same transaction, so the totals never disagree with the queue.
#include "omt/queue/sqlite_queue.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <string>
#include <utility>

#include "../completion.hpp"
#include "../lease_table.hpp"
#include "../record_chunk.hpp"
#include "../write_checks.hpp"
#include "chunk_store.hpp"
#include "connection.hpp"
#include "dead_letter_store.hpp"
#include "group_commit.hpp"
#include "import_store.hpp"
#include "ometria_error_store.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/obs/queue_events.hpp"
#include "rejected_event_store.hpp"
#include "request_log_store.hpp"
#include "schema.hpp"

namespace omt::queue {

using sqlite::Query;

struct SqliteQueue::Impl {
  explicit Impl(SqliteQueueOptions opts, sqlite::Connection connection)
      : options(std::move(opts)), db(std::move(connection)) {}
  ~Impl() { writer.reset(); }  // first: it finishes the pending operations, which use everything else

  UnixMillis now() const {
    if (options.clock) return options.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Expected<void> prepare_statements();
  Expected<std::uint64_t> quarantine(const sqlite::StoredChunk& damaged, std::uint64_t count);
  // The chunk of `count` records, decoded; nullopt when it is gone, or when it cannot be decoded: then it was
  // quarantined, and its records are taken off `delta` and added to `quarantined`.
  Expected<std::optional<sqlite::StoredChunk>> readable_chunk(chunk::ChunkId id, std::uint64_t count,
                                                              sqlite::DepthDelta& delta, std::uint64_t& quarantined);
  // Adds to the delivered and dead-lettered totals of the chunk owner's partition.
  Expected<void> count_out(const sqlite::ChunkOwner& owner, std::uint64_t delivered, std::uint64_t dead_lettered);
  Expected<std::vector<HeldKey>> read_held_keys();
  // Stores records as new chunks of their lanes, due now; ids[i] becomes records[i]'s id. Adds them to delta.
  Expected<void> insert_records(const std::vector<NewRecord>& records, std::vector<RecordId>& ids,
                                sqlite::DepthDelta& delta);
  Expected<void> drop_hold(const std::string& api_key);
  void submit_request_log_flush();
  Expected<RecordType> record_type(const std::string& name, const char* whose) const {
    auto type = ometria::record_type_from(name);
    if (!type) return fail(errc::io, std::string("queue: ") + whose + " has an unknown type \"" + name + "\"", options.path.string());
    return *type;
  }

  SqliteQueueOptions options;
  sqlite::Connection db;
  sqlite::ChunkStore chunks;
  sqlite::DeadLetterStore dead;
  sqlite::RejectedEventStore rejected;
  sqlite::OmetriaErrorStore ometria_errors;
  sqlite::RequestLogStore request_log;
  // Pushes logged but not yet taken by the writer, and whether a task to take them is queued (log_mutex).
  std::mutex log_mutex;
  std::vector<RequestLogEntry> log_pending;
  std::vector<RequestLog::LogDone> log_waiting;
  bool log_flush_queued = false;
  sqlite::ImportStore imports;
  sqlite::Statement hold_stmt, unhold_stmt, held_stmt, ready_partitions_stmt, partition_stats_stmt;
  sqlite::Statement count_out_stmt, lane_totals_stmt;
  sqlite::Statement rekey_stmt, key_chunks_stmt, key_records_stmt;
  LeaseTable leases;
  std::unique_ptr<sqlite::GroupCommitWriter> writer;
};

Expected<void> SqliteQueue::Impl::prepare_statements() {
  auto prepared_chunks = sqlite::ChunkStore::prepare(db);
  if (!prepared_chunks) return tl::unexpected(prepared_chunks.error());
  chunks = std::move(*prepared_chunks);
  auto prepared_dead = sqlite::DeadLetterStore::prepare(db);
  if (!prepared_dead) return tl::unexpected(prepared_dead.error());
  dead = std::move(*prepared_dead);
  auto prepared_rejected = sqlite::RejectedEventStore::prepare(db);
  if (!prepared_rejected) return tl::unexpected(prepared_rejected.error());
  rejected = std::move(*prepared_rejected);
  auto prepared_errors = sqlite::OmetriaErrorStore::prepare(db, options.max_ometria_errors);
  if (!prepared_errors) return tl::unexpected(prepared_errors.error());
  ometria_errors = std::move(*prepared_errors);
  auto prepared_log = sqlite::RequestLogStore::prepare(db);
  if (!prepared_log) return tl::unexpected(prepared_log.error());
  request_log = std::move(*prepared_log);
  auto prepared_imports = sqlite::ImportStore::prepare(db);
  if (!prepared_imports) return tl::unexpected(prepared_imports.error());
  imports = std::move(*prepared_imports);
  return db.prepare_each({
      {&hold_stmt, "INSERT OR REPLACE INTO held_keys(api_key, reason, held_at) VALUES(?, ?, ?)"},
      {&unhold_stmt, "DELETE FROM held_keys WHERE api_key = ?"},
      {&held_stmt, "SELECT api_key, reason, held_at FROM held_keys ORDER BY held_at, api_key"},
      {&ready_partitions_stmt,
       "SELECT api_key, type, lane, SUM(count) FROM chunks WHERE next_attempt_at <= ?"
       " AND api_key NOT IN (SELECT api_key FROM held_keys) GROUP BY api_key, type, lane ORDER BY lane, MIN(created_at)"},
      {&partition_stats_stmt,
       "SELECT api_key, type, lane, SUM(count), MIN(created_at) FROM chunks GROUP BY api_key, type, lane"
       " ORDER BY api_key, type, lane"},
      {&count_out_stmt,
       "INSERT INTO lane_totals(api_key, type, lane, delivered, dead_lettered) VALUES(?, ?, ?, ?, ?)"
       " ON CONFLICT(api_key, type, lane) DO UPDATE SET delivered = delivered + excluded.delivered,"
       " dead_lettered = dead_lettered + excluded.dead_lettered"},
      {&lane_totals_stmt, "SELECT api_key, type, lane, delivered, dead_lettered FROM lane_totals"},
      {&rekey_stmt, "UPDATE chunks SET api_key = ? WHERE api_key = ?"},
      {&key_chunks_stmt, "SELECT id, count FROM chunks WHERE api_key = ? ORDER BY id"},
      {&key_records_stmt, "SELECT COALESCE(SUM(count), 0) FROM chunks WHERE api_key = ?"},
  });
}

// Moves a chunk that cannot be decoded to the dead-letter store as one entry: id chunk<<7|127 (a slot no
// record uses), its bytes in hex as the text, the damage as the reason. Returns the records it counted.
Expected<std::uint64_t> SqliteQueue::Impl::quarantine(const sqlite::StoredChunk& damaged, std::uint64_t count) {
  static constexpr char kHex[] = "0123456789abcdef";
  sqlite::DeadRow row;
  row.id = chunk::record_id(damaged.id, (1u << chunk::kSlotBits) - 1);
  row.api_key = damaged.api_key;
  row.type = damaged.type;
  row.json.reserve(2 * damaged.blob.size());
  for (unsigned char c : damaged.blob) {
    row.json.push_back(kHex[c >> 4]);
    row.json.push_back(kHex[c & 15]);
  }
  row.reason = "damaged chunk of " + std::to_string(count) + " records: " + damaged.damage->message;
  row.created_at = row.dead_at = now();
  if (auto r = dead.insert(row, "store damaged chunk"); !r) return tl::unexpected(r.error());
  if (auto r = chunks.remove(damaged.id, "delete damaged chunk"); !r) return tl::unexpected(r.error());
  if (auto r = count_out({damaged.api_key, damaged.type, damaged.lane}, 0, count); !r) return tl::unexpected(r.error());
  obs::emit(obs::QueueChunkQuarantined{damaged.api_key, damaged.type, row.reason});
  return count;
}

Expected<std::optional<sqlite::StoredChunk>> SqliteQueue::Impl::readable_chunk(chunk::ChunkId id, std::uint64_t count,
                                                                             sqlite::DepthDelta& delta,
                                                                             std::uint64_t& quarantined) {
  auto stored = chunks.read_any(id);
  if (!stored || !*stored || !(*stored)->damage) return stored;
  auto moved = quarantine(**stored, count);
  if (!moved) return tl::unexpected(moved.error());
  delta.add((*stored)->lane, -static_cast<std::int64_t>(*moved));
  quarantined += *moved;
  return std::optional<sqlite::StoredChunk>{};
}

Expected<void> SqliteQueue::Impl::count_out(const sqlite::ChunkOwner& owner, std::uint64_t delivered,
                                            std::uint64_t dead_lettered) {
  if (delivered == 0 && dead_lettered == 0) return {};
  Query q(db, count_out_stmt, "count records out of the queue");
  q.bind(owner.api_key).bind(owner.type).bind(static_cast<std::int64_t>(owner.lane));
  q.bind(static_cast<std::int64_t>(delivered)).bind(static_cast<std::int64_t>(dead_lettered));
  if (auto r = q.run(); !r) return tl::unexpected(r.error());
  return {};
}

Expected<std::vector<HeldKey>> SqliteQueue::Impl::read_held_keys() {
  std::vector<HeldKey> held;
  Query q(db, held_stmt, "list held keys");
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    held.push_back(HeldKey{q.text(0), q.text(1), q.integer(2)});
  }
  return held;
}

Expected<void> SqliteQueue::Impl::insert_records(const std::vector<NewRecord>& records, std::vector<RecordId>& ids,
                                                 sqlite::DepthDelta& delta) {
  const UnixMillis now = this->now();
  ids.assign(records.size(), 0);
  std::vector<chunk::Entry> entries;
  for (const auto& members : chunk::plan_chunks(records)) {
    entries.clear();
    for (std::size_t slot = 0; slot < members.size(); ++slot) {
      entries.push_back(chunk::Entry{static_cast<unsigned>(slot), 0, now, now, records[members[slot]].json});
    }
    const auto& first = records[members.front()];
    auto chunk_id = chunks.insert(first.api_key, ometria::to_string(first.type), first.lane, entries);
    if (!chunk_id) return tl::unexpected(chunk_id.error());
    delta.add(first.lane, static_cast<std::int64_t>(members.size()));
    for (std::size_t slot = 0; slot < members.size(); ++slot) {
      ids[members[slot]] = chunk::record_id(**chunk_id, static_cast<unsigned>(slot));
    }
  }
  return {};
}

Expected<void> SqliteQueue::Impl::drop_hold(const std::string& api_key) {
  Query q(db, unhold_stmt, "unhold key");
  if (auto ran = q.bind(api_key).run(); !ran) return tl::unexpected(ran.error());
  return {};
}

Expected<std::unique_ptr<SqliteQueue>> SqliteQueue::open(SqliteQueueOptions options) {
  auto db = sqlite::Connection::open({options.path, options.create_if_missing, options.busy_timeout});
  if (!db) return tl::unexpected(db.error());
  if (auto r = sqlite::prepare_schema(*db); !r) return tl::unexpected(r.error());
  // On the heap before the stores are prepared: they keep the connection's address.
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*db));
  if (auto r = impl->prepare_statements(); !r) return tl::unexpected(r.error());
  auto depth = impl->chunks.count_records();
  if (!depth) return tl::unexpected(depth.error());
  auto writer = sqlite::GroupCommitWriter::start(
      impl->db, {impl->options.durability, impl->options.max_pending_operations,
                 impl->options.max_records_per_transaction, *depth,
                 [chunks = &impl->chunks] { return chunks->count_records(); }});
  if (!writer) return tl::unexpected(writer.error());
  impl->writer = std::move(*writer);
  return std::unique_ptr<SqliteQueue>(new SqliteQueue(std::move(impl)));
}

SqliteQueue::SqliteQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteQueue::~SqliteQueue() = default;  // Impl stops the writer first

void SqliteQueue::enqueue(std::vector<NewRecord> records, EnqueueDone done) {
  store(IngestWrite{std::move(records), {}}, records_only(std::move(done)));
}

void SqliteQueue::store(IngestWrite write, StoreDone done) {
  if (auto answer = answer_before_queueing(write, impl_->options.max_records_per_enqueue)) {
    done(std::move(*answer));
    return;
  }
  auto stored = std::make_shared<IngestStored>();
  auto shared_done = std::make_shared<StoreDone>(std::move(done));
  sqlite::GroupCommitWriter::Task task;
  task.records = write.records.size() + write.rejected.size();
  task.durable = true;
  task.run = [impl = impl_.get(), stored, write = std::move(write)](sqlite::DepthDelta& delta) -> Expected<void> {
    if (auto r = impl->insert_records(write.records, stored->records, delta); !r) return r;
    if (!write.rejected.empty()) {
      const UnixMillis now = impl->now();
      for (const auto& event : write.rejected) {
        if (auto r = impl->rejected.insert(event, now); !r) return r;
      }
      auto dropped = impl->rejected.trim(impl->options.max_rejected_events);
      if (!dropped) return tl::unexpected(dropped.error());
      stored->rejected_dropped = *dropped;
    }
    return {};
  };
  task.finish = [stored, shared_done](const Error* err) {
    if (err != nullptr) (*shared_done)(tl::unexpected(*err));
    else (*shared_done)(std::move(*stored));
  };
  Error refused;
  if (!impl_->writer->submit(std::move(task), refused)) (*shared_done)(tl::unexpected(refused));
}

// The leases are taken in memory as the task runs; when its transaction then fails as a whole (a full disk rolls
// back every task of the group), the caller is told the error, not the records, so they are let go again: else
// they would sit leased, unpushed, until the lease ran out.
void SqliteQueue::lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
                                    std::chrono::milliseconds lease_for, Done<Leased> done) {
  auto taken = std::make_shared<std::vector<RecordId>>();
  auto let_go_on_failure = [impl = impl_.get(), taken, done = std::move(done)](Expected<Leased> result) {
    if (!result)
      for (RecordId id : *taken) impl->leases.release(id);
    done(std::move(result));
  };
  impl_->writer->submit_call<Leased>([impl = impl_.get(), taken, api_key, type, lane, max, lease_for](sqlite::DepthDelta& delta)
                                                  -> Expected<Leased> {
    const UnixMillis now = impl->now();
    impl->leases.expire(now);
    const std::string type_name(ometria::to_string(type));
    const UnixMillis until = now + std::max<std::int64_t>(lease_for.count(), 1);
    const auto partition = impl->leases.partition(api_key, type_name, lane);
    Leased result;
    auto& leased = result.records;
    // Chunks with due records come oldest first; those whose records are all leased are skipped unread.
    auto due = impl->chunks.due(api_key, type_name, lane, now);
    while (leased.size() < max) {
      auto row = due.next();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      const chunk::ChunkId chunk_id = (*row)->id;
      const std::uint64_t count = (*row)->count;
      if (impl->leases.leased_in_chunk(chunk_id) >= count) continue;
      std::uint64_t quarantined = 0;
      auto stored = impl->readable_chunk(chunk_id, count, delta, quarantined);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      std::vector<const chunk::Entry*> free;
      for (const auto& e : (*stored)->entries) {
        if (e.next_attempt_at <= now && !impl->leases.leased(chunk::record_id(chunk_id, e.slot))) free.push_back(&e);
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
        r.lane = lane;
        r.json = std::string(e->json);
        r.attempts = e->attempts;
        r.next_attempt_at = e->next_attempt_at;
        r.created_at = e->created_at;
        impl->leases.lease(r.id, partition, until);
        taken->push_back(r.id);
        leased.push_back(std::move(r));
      }
    }
    return result;
  }, std::move(let_go_on_failure));
}

void SqliteQueue::ack(const std::vector<RecordId>& ids, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), ids](sqlite::DepthDelta& delta) -> Expected<std::size_t> {
    std::size_t removed = 0;
    for (const auto& [chunk_id, group] : chunk::group_by_chunk(ids)) {
      bool all_leased = true;
      for (RecordId id : group) all_leased = impl->leases.release(id) && all_leased;
      // Leased records are stored ones: when they are as many as the chunk holds, they are all of it.
      if (all_leased) {
        auto deleted = impl->chunks.remove_if_count(chunk_id, group.size());
        if (!deleted) return tl::unexpected(deleted.error());
        if (*deleted) {
          removed += group.size();
          delta.add((*deleted)->lane, -static_cast<std::int64_t>(group.size()));
          if (auto r = impl->count_out(**deleted, group.size(), 0); !r) return tl::unexpected(r.error());
          continue;
        }
      }
      auto stored = impl->chunks.read(chunk_id);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      std::vector<chunk::Entry> kept;
      for (const auto& e : (*stored)->entries) {
        if (!std::binary_search(group.begin(), group.end(), chunk::record_id(chunk_id, e.slot))) kept.push_back(e);
      }
      if (kept.size() == (*stored)->entries.size()) continue;
      const std::size_t here = (*stored)->entries.size() - kept.size();
      removed += here;
      delta.add((*stored)->lane, -static_cast<std::int64_t>(here));
      if (auto r = impl->count_out({(*stored)->api_key, (*stored)->type, (*stored)->lane}, here, 0); !r)
        return tl::unexpected(r.error());
      if (auto r = impl->chunks.rewrite(chunk_id, kept); !r) return tl::unexpected(r.error());
    }
    return removed;
  }, std::move(done));
}

void SqliteQueue::reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), ids, delay](sqlite::DepthDelta&) -> Expected<std::size_t> {
    const UnixMillis due = impl->now() + std::max<std::int64_t>(delay.count(), 0);
    std::size_t changed = 0;
    for (const auto& [chunk_id, group] : chunk::group_by_chunk(ids)) {
      for (RecordId id : group) impl->leases.release(id);
      auto stored = impl->chunks.read(chunk_id);
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
      if (auto r = impl->chunks.rewrite(chunk_id, entries); !r) return tl::unexpected(r.error());
    }
    return changed;
  }, std::move(done));
}

// Leases live in memory only (LeaseTable): nothing in the file changes, so nothing is written.
void SqliteQueue::give_back(const std::vector<RecordId>& ids, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), ids](sqlite::DepthDelta&) -> Expected<std::size_t> {
    std::size_t released = 0;
    for (RecordId id : ids) released += impl->leases.release(id) ? 1 : 0;
    return released;
  }, std::move(done));
}

void SqliteQueue::dead_letter(const std::vector<RecordId>& ids, const std::string& reason, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), ids, reason](sqlite::DepthDelta& delta)
                                                             -> Expected<std::size_t> {
    const UnixMillis now = impl->now();
    std::size_t moved = 0;
    for (const auto& [chunk_id, group] : chunk::group_by_chunk(ids)) {
      for (RecordId id : group) impl->leases.release(id);
      auto stored = impl->chunks.read(chunk_id);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      std::vector<chunk::Entry> kept;
      for (const auto& e : (*stored)->entries) {
        const RecordId id = chunk::record_id(chunk_id, e.slot);
        if (!std::binary_search(group.begin(), group.end(), id)) {
          kept.push_back(e);
          continue;
        }
        const sqlite::DeadRow row{id,           (*stored)->api_key, (*stored)->type, std::string(e.json),
                                  static_cast<std::int64_t>(e.attempts) + 1, e.created_at, reason, now};
        if (auto r = impl->dead.insert(row); !r) return tl::unexpected(r.error());
        ++moved;
      }
      const std::size_t here = (*stored)->entries.size() - kept.size();
      if (here == 0) continue;
      delta.add((*stored)->lane, -static_cast<std::int64_t>(here));
      if (auto r = impl->count_out({(*stored)->api_key, (*stored)->type, (*stored)->lane}, 0, here); !r)
        return tl::unexpected(r.error());
      if (auto r = impl->chunks.rewrite(chunk_id, kept); !r) return tl::unexpected(r.error());
    }
    return moved;
  }, std::move(done));
}

void SqliteQueue::hold_key(const std::string& api_key, const std::string& reason, Done<void> done) {
  impl_->writer->submit_call<bool>([impl = impl_.get(), api_key, reason](sqlite::DepthDelta&) -> Expected<bool> {
    Query q(impl->db, impl->hold_stmt, "hold key");
    if (auto ran = q.bind(api_key).bind(reason).bind(impl->now()).run(); !ran) return tl::unexpected(ran.error());
    return true;
  }, discard_value(std::move(done)));
}

void SqliteQueue::unhold_key(const std::string& api_key, Done<void> done) {
  impl_->writer->submit_call<bool>([impl = impl_.get(), api_key](sqlite::DepthDelta&) -> Expected<bool> {
    Query q(impl->db, impl->unhold_stmt, "unhold key");
    if (auto ran = q.bind(api_key).run(); !ran) return tl::unexpected(ran.error());
    return true;
  }, discard_value(std::move(done)));
}

void SqliteQueue::rekey(const std::string& from_key, const std::string& to_key, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), from_key, to_key](sqlite::DepthDelta&)
                                                       -> Expected<std::size_t> {
    std::uint64_t records = 0;
    {
      Query q(impl->db, impl->key_records_stmt, "count a key's records");
      auto row = q.bind(from_key).step();
      if (!row) return tl::unexpected(row.error());
      if (*row) records = static_cast<std::uint64_t>(q.integer(0));
    }
    // Chunks carry their key; their records keep ids, attempts and due times, so one UPDATE moves them all.
    if (from_key != to_key) {
      Query q(impl->db, impl->rekey_stmt, "rekey records");
      if (auto moved = q.bind(to_key).bind(from_key).run(); !moved) return tl::unexpected(moved.error());
    }
    if (auto r = impl->drop_hold(from_key); !r) return tl::unexpected(r.error());
    return static_cast<std::size_t>(records);
  }, std::move(done));
}

void SqliteQueue::release_key(const std::string& api_key, const std::string& reason, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), api_key, reason](sqlite::DepthDelta& delta)
                                                             -> Expected<std::size_t> {
    std::vector<std::pair<chunk::ChunkId, std::uint64_t>> ids;  // with each one's record count
    {
      Query q(impl->db, impl->key_chunks_stmt, "list a key's chunks");
      q.bind(api_key);
      for (;;) {
        auto row = q.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        ids.emplace_back(q.integer(0), static_cast<std::uint64_t>(q.integer(1)));
      }
    }
    const UnixMillis now = impl->now();
    std::uint64_t moved = 0;
    for (const auto& [chunk_id, count] : ids) {
      // A chunk that cannot be decoded goes as one quarantined entry, as a lease would send it.
      auto stored = impl->readable_chunk(chunk_id, count, delta, moved);
      if (!stored) return tl::unexpected(stored.error());
      if (!*stored) continue;
      const std::size_t here = (*stored)->entries.size();
      for (const auto& e : (*stored)->entries) {
        const RecordId id = chunk::record_id(chunk_id, e.slot);
        impl->leases.release(id);
        // Attempts as they are: no push failed here, the operator gave the records up.
        const sqlite::DeadRow row{id, (*stored)->api_key, (*stored)->type, std::string(e.json),
                                  static_cast<std::int64_t>(e.attempts), e.created_at, reason, now};
        if (auto r = impl->dead.insert(row); !r) return tl::unexpected(r.error());
        ++moved;
      }
      if (auto r = impl->chunks.remove(chunk_id, "delete released chunk"); !r) return tl::unexpected(r.error());
      delta.add((*stored)->lane, -static_cast<std::int64_t>(here));
      if (auto r = impl->count_out({(*stored)->api_key, (*stored)->type, (*stored)->lane}, 0, here); !r)
        return tl::unexpected(r.error());
    }
    if (auto r = impl->drop_hold(api_key); !r) return tl::unexpected(r.error());
    return static_cast<std::size_t>(moved);
  }, std::move(done));
}

void SqliteQueue::held_keys(Done<std::vector<HeldKey>> done) {
  impl_->writer->submit_call<std::vector<HeldKey>>([impl = impl_.get()](sqlite::DepthDelta&) { return impl->read_held_keys(); }, std::move(done));
}

// Exact whatever count_up_to says: a chunk row carries its count, so the sum costs a row per chunk, not per record.
void SqliteQueue::ready_partitions(std::uint64_t /*count_up_to*/, Done<std::vector<ReadyPartition>> done) {
  impl_->writer->submit_call<std::vector<ReadyPartition>>([impl = impl_.get()](sqlite::DepthDelta&) -> Expected<std::vector<ReadyPartition>> {
        const UnixMillis now = impl->now();
        impl->leases.expire(now);
        const auto leased_per_partition = impl->leases.leased_per_partition();
        std::vector<ReadyPartition> ready;
        Query q(impl->db, impl->ready_partitions_stmt, "list ready partitions");
        q.bind(now);
        for (;;) {
          auto row = q.step();
          if (!row) return tl::unexpected(row.error());
          if (!*row) break;
          const std::string type_name = q.text(1);
          auto type = impl->record_type(type_name, "a record");
          if (!type) return tl::unexpected(type.error());
          const Lane lane = sqlite::lane_of_column(q.integer(2));
          const auto due = static_cast<std::uint64_t>(q.integer(3));
          const std::string api_key = q.text(0);
          const auto known = impl->leases.find_partition(api_key, type_name, lane);
          const auto leased = known ? leased_per_partition[*known] : 0;
          // A leased record may have been rescheduled into the future meanwhile; never count below zero.
          if (due > leased) ready.push_back(ReadyPartition{api_key, *type, due - leased, lane});
        }
        return ready;
      }, std::move(done));
}

void SqliteQueue::stats(Done<QueueStats> done) {
  impl_->writer->submit_call<QueueStats>([impl = impl_.get()](sqlite::DepthDelta&) -> Expected<QueueStats> {
    QueueStats s;
    // Waiting records and totals meet by (api key, type name, lane); the map keeps them in that order.
    std::map<std::tuple<std::string, std::string, Lane>, PartitionStats> partitions;
    {
      Query q(impl->db, impl->partition_stats_stmt, "queue stats");
      for (;;) {
        auto row = q.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        auto type = impl->record_type(q.text(1), "a record");
        if (!type) return tl::unexpected(type.error());
        const Lane lane = sqlite::lane_of_column(q.integer(2));
        PartitionStats p{q.text(0), *type, static_cast<std::uint64_t>(q.integer(3)), q.integer(4), lane};
        s.depth += p.depth;
        if (!s.oldest_created_at || p.oldest_created_at < *s.oldest_created_at) s.oldest_created_at = p.oldest_created_at;
        partitions.emplace(std::make_tuple(p.api_key, q.text(1), lane), std::move(p));
      }
    }
    {
      Query q(impl->db, impl->lane_totals_stmt, "queue totals");
      for (;;) {
        auto row = q.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        auto type = impl->record_type(q.text(1), "a total");
        if (!type) return tl::unexpected(type.error());
        const Lane lane = sqlite::lane_of_column(q.integer(2));
        auto [it, added] = partitions.try_emplace(std::make_tuple(q.text(0), q.text(1), lane));
        if (added) {
          it->second.api_key = q.text(0);
          it->second.type = *type;
          it->second.lane = lane;
        }
        it->second.delivered = static_cast<std::uint64_t>(q.integer(3));
        it->second.dead_lettered = static_cast<std::uint64_t>(q.integer(4));
      }
    }
    for (auto& [key, p] : partitions) (p.depth > 0 ? s.partitions : s.drained).push_back(std::move(p));
    auto dead = impl->dead.count();
    if (!dead) return tl::unexpected(dead.error());
    s.dead_letters = *dead;
    auto rejected = impl->rejected.count();
    if (!rejected) return tl::unexpected(rejected.error());
    s.rejected_events = *rejected;
    auto held = impl->read_held_keys();
    if (!held) return tl::unexpected(held.error());
    s.held_keys = std::move(*held);
    return s;
  }, [writer = impl_->writer.get(), done = std::move(done)](Expected<QueueStats> stats) {
  // Another process (the CLI) may have replayed records: the exact count re-syncs the cheap counter.
  if (stats) {
    sqlite::LaneCounts counts;
    for (const auto& p : stats->partitions) (p.lane == Lane::backfill ? counts.backfill : counts.live) += p.depth;
    writer->set_depth(counts);
  }
  done(std::move(stats));
  });
}

std::uint64_t SqliteQueue::depth() const { return impl_->writer->depth(); }
std::uint64_t SqliteQueue::lane_depth(Lane lane) const { return impl_->writer->depth(lane); }
std::uint64_t SqliteQueue::high_water_mark() const { return impl_->options.high_water_mark; }
QueueHealth SqliteQueue::health() const { return impl_->writer->health(); }
std::uint64_t SqliteQueue::commits() const { return impl_->writer->commits(); }

void SqliteQueue::dead_letters(const DeadLetterSelection& which, Done<std::vector<DeadRecord>> done) {
  impl_->writer->submit_call<std::vector<DeadRecord>>([impl = impl_.get(), which](sqlite::DepthDelta&) -> Expected<std::vector<DeadRecord>> {
        auto ids = impl->dead.select_ids(which);
        if (!ids) return tl::unexpected(ids.error());
        std::vector<DeadRecord> dead;
        for (RecordId id : *ids) {
          auto row = impl->dead.read(id);
          if (!row) return tl::unexpected(row.error());
          if (!*row) continue;
          auto type = impl->record_type((*row)->type, "a dead letter");
          if (!type) return tl::unexpected(type.error());
          DeadRecord d;
          d.record.id = (*row)->id;
          d.record.api_key = std::move((*row)->api_key);
          d.record.type = *type;
          d.record.json = std::move((*row)->json);
          d.record.attempts = static_cast<std::uint32_t>((*row)->attempts);
          d.record.created_at = (*row)->created_at;
          d.reason = std::move((*row)->reason);
          d.dead_at = (*row)->dead_at;
          dead.push_back(std::move(d));
        }
        return dead;
      }, std::move(done));
}

void SqliteQueue::replay(const DeadLetterSelection& which, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), which](sqlite::DepthDelta& delta) -> Expected<std::size_t> {
    auto ids = impl->dead.select_ids(which);
    if (!ids) return tl::unexpected(ids.error());
    const UnixMillis now = impl->now();
    std::size_t replayed = 0;
    for (RecordId id : *ids) {
      auto row = impl->dead.read(id);
      if (!row) return tl::unexpected(row.error());
      if (!*row) continue;
      const chunk::Entry entry{chunk::slot_of(id), 0, now, (*row)->created_at, (*row)->json};
      if (auto r = impl->chunks.put_back(id, (*row)->api_key, (*row)->type, entry); !r) return tl::unexpected(r.error());
      if (auto r = impl->dead.remove(id, "delete replayed dead letter"); !r) return tl::unexpected(r.error());
      ++replayed;
    }
    delta.add(Lane::live, static_cast<std::int64_t>(replayed));
    return replayed;
  }, std::move(done));
}

void SqliteQueue::purge(const DeadLetterSelection& which, Done<std::size_t> done) {
  impl_->writer->submit_call<std::size_t>([impl = impl_.get(), which](sqlite::DepthDelta&) -> Expected<std::size_t> {
    auto ids = impl->dead.select_ids(which);
    if (!ids) return tl::unexpected(ids.error());
    std::size_t purged = 0;
    for (RecordId id : *ids) {
      auto r = impl->dead.remove(id, "purge dead letter");
      if (!r) return tl::unexpected(r.error());
      purged += *r;
    }
    return purged;
  }, std::move(done));
}

void SqliteQueue::rejected_events(const RejectedEventSelection& which, Done<std::vector<RejectedEvent>> done) {
  impl_->writer->submit_call<std::vector<RejectedEvent>>([impl = impl_.get(), which](sqlite::DepthDelta&) { return impl->rejected.select(which); }, std::move(done));
}

void SqliteQueue::settle_rejected_events(std::vector<RejectedEventOutcome> outcomes, Done<RejectedEventsSettled> done) {
  for (const auto& outcome : outcomes) {
    if (!outcome.record) continue;
    if (auto fits = ometria::check_record_size(outcome.record->json.size(), errc::too_large); !fits)
      return done(tl::unexpected(std::move(fits.error())));
  }
  impl_->writer->submit_call<RejectedEventsSettled>([impl = impl_.get(), outcomes = std::move(outcomes)](sqlite::DepthDelta& delta) mutable -> Expected<RejectedEventsSettled> {
        RejectedEventsSettled settled;
        std::vector<NewRecord> records;
        for (auto& outcome : outcomes) {
          if (outcome.reason) {
            auto updated = impl->rejected.update_reason(outcome.id, *outcome.reason);
            if (!updated) return tl::unexpected(updated.error());
            if (*updated == 0) ++settled.gone;
            else ++settled.still_rejected;
            continue;
          }
          // Removed first: only an event that was still stored becomes a record.
          auto removed = impl->rejected.remove(outcome.id);
          if (!removed) return tl::unexpected(removed.error());
          if (*removed == 0) ++settled.gone;
          else if (!outcome.record) ++settled.skipped;
          else records.push_back(std::move(*outcome.record));
        }
        std::vector<RecordId> ids;
        if (auto r = impl->insert_records(records, ids, delta); !r) return tl::unexpected(r.error());
        settled.enqueued = records.size();
        return settled;
      }, std::move(done));
}

// ---- what Ometria rejected after a 2xx (OmetriaErrorLog) ----

void SqliteQueue::record_ometria_errors(const std::string& api_key,
                                                                             const std::vector<delivery::SeenError>& seen,
                                                                             std::int64_t now, Done<std::vector<delivery::SeenError>> done) {
  impl_->writer->submit_call<std::vector<delivery::SeenError>>([impl = impl_.get(), api_key, seen, now](sqlite::DepthDelta&) {
        return impl->ometria_errors.record(api_key, seen, now);
      }, std::move(done));
}

void SqliteQueue::ometria_errors(std::size_t limit, Done<std::vector<StoredOmetriaError>> done) {
  impl_->writer->submit_call<std::vector<StoredOmetriaError>>([impl = impl_.get(), limit](sqlite::DepthDelta&) { return impl->ometria_errors.list(limit); }, std::move(done));
}

void SqliteQueue::ometria_errors_by_key(Done<std::vector<OmetriaErrorsOfKey>> done) {
  impl_->writer->submit_call<std::vector<OmetriaErrorsOfKey>>([impl = impl_.get()](sqlite::DepthDelta&) { return impl->ometria_errors.by_key(); }, std::move(done));
}

// ---- the request log (RequestLog) ----

// Entries wait in memory until the writer takes all of them in one task: however many pushes end together, logging
// them adds one task (a few inserts) to a transaction, never a commit or an fsync of its own (durable = false), and
// the caller never waits for the database.
void SqliteQueue::log_pushes(std::vector<RequestLogEntry> entries, LogDone done) {
  if (entries.empty()) {
    if (done) done(nullptr);
    return;
  }
  bool submit = false;
  {
    std::lock_guard lock(impl_->log_mutex);
    if (impl_->log_pending.size() + entries.size() <= impl_->options.max_pending_request_log) {
      impl_->log_pending.insert(impl_->log_pending.end(), std::make_move_iterator(entries.begin()),
                                std::make_move_iterator(entries.end()));
      impl_->log_waiting.push_back(std::move(done));
      submit = !std::exchange(impl_->log_flush_queued, true);
      done = nullptr;
    }
  }
  if (done) {
    const Error refused{errc::unavailable,
                        "queue: too many pushes waiting to be logged (" +
                            std::to_string(impl_->options.max_pending_request_log) + ")",
                        impl_->options.path.string()};
    done(&refused);
    return;
  }
  if (submit) impl_->submit_request_log_flush();
}

void SqliteQueue::Impl::submit_request_log_flush() {
  struct Batch {
    std::vector<RequestLogEntry> entries;
    std::vector<RequestLog::LogDone> waiting;
  };
  auto batch = std::make_shared<Batch>();
  // Taken when the task runs, not now: what was logged meanwhile goes in the same transaction.
  const auto take = [this, batch] {
    std::lock_guard lock(log_mutex);
    batch->entries.insert(batch->entries.end(), std::make_move_iterator(log_pending.begin()),
                          std::make_move_iterator(log_pending.end()));
    batch->waiting.insert(batch->waiting.end(), std::make_move_iterator(log_waiting.begin()),
                          std::make_move_iterator(log_waiting.end()));
    log_pending.clear();
    log_waiting.clear();
    log_flush_queued = false;
  };
  const auto tell = [batch](const Error* err) {
    for (auto& done : batch->waiting) {
      if (done) done(err);
    }
  };
  sqlite::GroupCommitWriter::Task task;
  task.run = [this, batch, take](sqlite::DepthDelta&) -> Expected<void> {
    take();
    for (const auto& entry : batch->entries) {
      if (auto r = request_log.insert(entry); !r) return r;
    }
    if (auto r = request_log.trim(options.max_request_log); !r) return tl::unexpected(r.error());
    return {};
  };
  task.finish = tell;
  Error refused;
  if (!writer->submit(std::move(task), refused)) {
    take();
    tell(&refused);
  }
}

void SqliteQueue::logged_requests(const RequestLogSelection& which, Done<std::vector<LoggedRequest>> done) {
  impl_->writer->submit_call<std::vector<LoggedRequest>>([impl = impl_.get(), which](sqlite::DepthDelta&) { return impl->request_log.select(which); }, std::move(done));
}

// ---- imports ----

void SqliteQueue::start_import_run(NewImportRun run, Done<ImportRun> done) {
  impl_->writer->submit_call<ImportRun>([impl = impl_.get(), run = std::move(run)](sqlite::DepthDelta&) {
    return impl->imports.start(run, impl->now());
  }, std::move(done));
}

void SqliteQueue::import_runs(const std::string& run_key, Done<std::vector<ImportRun>> done) {
  impl_->writer->submit_call<std::vector<ImportRun>>([impl = impl_.get(), run_key](sqlite::DepthDelta&) { return impl->imports.runs(run_key); }, std::move(done));
}

void SqliteQueue::set_import_run_state(ImportRunId id, ImportState state, Done<void> done) {
  impl_->writer->submit_call<bool>([impl = impl_.get(), id, state](sqlite::DepthDelta&) -> Expected<bool> {
    if (auto set = impl->imports.set_state(id, state, impl->now()); !set) return tl::unexpected(set.error());
    return true;
  }, discard_value(std::move(done)));
}

// One task, so one transaction: the records and the checkpoint that says they are stored commit together.
void SqliteQueue::enqueue_import(std::vector<NewRecord> records, ImportCheckpoint checkpoint, EnqueueDone done) {
  if (records.size() > impl_->options.max_records_per_enqueue) {
    done(fail(errc::too_large, "queue: " + std::to_string(records.size()) + " records in one enqueue, at most " +
                                   std::to_string(impl_->options.max_records_per_enqueue)));
    return;
  }
  for (const auto& record : records) {
    if (auto fits = ometria::check_record_size(record.json.size(), errc::too_large); !fits) {
      done(tl::unexpected(std::move(fits.error())));
      return;
    }
  }
  auto ids = std::make_shared<std::vector<RecordId>>();
  auto shared_done = std::make_shared<EnqueueDone>(std::move(done));
  sqlite::GroupCommitWriter::Task task;
  task.records = std::max<std::size_t>(records.size(), 1);
  task.durable = true;
  task.run = [impl = impl_.get(), ids, records = std::move(records), checkpoint](sqlite::DepthDelta& delta) -> Expected<void> {
    if (auto r = impl->insert_records(records, *ids, delta); !r) return r;
    if (auto r = impl->imports.checkpoint(checkpoint, records.size(), impl->now()); !r) return r;
    return {};
  };
  task.finish = [ids, shared_done](const Error* err) {
    if (err != nullptr) (*shared_done)(tl::unexpected(*err));
    else (*shared_done)(std::move(*ids));
  };
  Error refused;
  if (!impl_->writer->submit(std::move(task), refused)) (*shared_done)(tl::unexpected(refused));
}

}  // namespace omt::queue
