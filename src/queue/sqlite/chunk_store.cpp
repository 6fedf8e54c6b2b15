#include "chunk_store.hpp"

#include <algorithm>

namespace omt::queue::sqlite {

Expected<ChunkStore> ChunkStore::prepare(Connection& db) {
  ChunkStore store(db);
  auto prepared = db.prepare_each({
      {&store.insert_,
       "INSERT INTO chunks(api_key, type, lane, count, next_attempt_at, created_at, records) VALUES(?, ?, ?, ?, ?, ?, ?)"},
      {&store.insert_with_id_,
       "INSERT OR IGNORE INTO chunks(id, api_key, type, lane, count, next_attempt_at, created_at, records)"
       " VALUES(?, ?, ?, ?, ?, ?, ?, ?)"},
      {&store.select_due_,
       "SELECT id, count FROM chunks WHERE api_key = ? AND type = ? AND lane = ? AND next_attempt_at <= ?"
       " ORDER BY next_attempt_at, id"},
      {&store.select_, "SELECT api_key, type, lane, records FROM chunks WHERE id = ?"},
      {&store.update_, "UPDATE chunks SET count = ?, next_attempt_at = ?, created_at = ?, records = ? WHERE id = ?"},
      {&store.delete_if_count_, "DELETE FROM chunks WHERE id = ? AND count = ? RETURNING api_key, type, lane"},
      {&store.delete_, "DELETE FROM chunks WHERE id = ?"},
      {&store.count_records_, "SELECT lane, SUM(count) FROM chunks GROUP BY lane"},
  });
  if (!prepared) return tl::unexpected(prepared.error());
  return store;
}

Expected<std::optional<StoredChunk>> ChunkStore::read_any(chunk::ChunkId id) {
  Query q(*db_, select_, "read chunk");
  auto row = q.bind(id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<StoredChunk>{};
  StoredChunk c;
  c.id = id;
  c.api_key = q.text(0);
  c.type = q.text(1);
  c.lane = lane_of_column(q.integer(2));
  c.blob = q.blob(3);
  auto entries = chunk::decode(c.blob);
  if (entries) c.entries = std::move(*entries);
  else c.damage = Error{entries.error().code, entries.error().message + " (chunk " + std::to_string(id) + ")", db_->path().string()};
  return std::optional<StoredChunk>(std::move(c));
}

Expected<std::optional<StoredChunk>> ChunkStore::read(chunk::ChunkId id) {
  auto stored = read_any(id);
  if (stored && *stored && (*stored)->damage) return tl::unexpected(*(*stored)->damage);
  return stored;
}

Expected<std::optional<chunk::ChunkId>> ChunkStore::insert(std::string_view api_key, std::string_view type, Lane lane,
                                                           const std::vector<chunk::Entry>& entries,
                                                           std::optional<chunk::ChunkId> id) {
  const auto summary = chunk::summarize(entries);
  const std::string blob = chunk::encode(entries);
  Query q(*db_, id ? insert_with_id_ : insert_, "insert chunk");
  if (id) q.bind(*id);
  q.bind(api_key).bind(type).bind(static_cast<std::int64_t>(lane)).bind(static_cast<std::int64_t>(entries.size()));
  q.bind(summary.next_attempt_at).bind(summary.created_at).bind_blob(blob);
  auto changed = q.run();
  if (!changed) return tl::unexpected(changed.error());
  if (*changed == 0) return std::optional<chunk::ChunkId>{};
  return std::optional<chunk::ChunkId>(db_->last_insert_rowid());
}

Expected<void> ChunkStore::rewrite(chunk::ChunkId id, const std::vector<chunk::Entry>& entries) {
  if (entries.empty()) return remove(id);
  const auto summary = chunk::summarize(entries);
  const std::string blob = chunk::encode(entries);
  Query q(*db_, update_, "rewrite chunk");
  q.bind(static_cast<std::int64_t>(entries.size())).bind(summary.next_attempt_at).bind(summary.created_at);
  q.bind_blob(blob).bind(id);
  if (auto r = q.run(); !r) return tl::unexpected(r.error());
  return {};
}

Expected<void> ChunkStore::put_back(RecordId id, std::string_view api_key, std::string_view type, chunk::Entry entry) {
  const chunk::ChunkId chunk_id = chunk::chunk_of(id);
  auto stored = read(chunk_id);
  if (!stored) return tl::unexpected(stored.error());
  if (*stored && (*stored)->api_key == api_key && (*stored)->type == type && (*stored)->lane == Lane::live) {
    auto entries = (*stored)->entries;
    auto at = std::lower_bound(entries.begin(), entries.end(), entry.slot,
                               [](const chunk::Entry& e, unsigned slot) { return e.slot < slot; });
    if (at == entries.end() || at->slot != entry.slot) {
      entries.insert(at, entry);
      return rewrite(chunk_id, entries);
    }
  } else if (!*stored) {
    auto inserted = insert(api_key, type, Lane::live, {entry}, chunk_id);
    if (!inserted) return tl::unexpected(inserted.error());
    if (*inserted) return {};
  }
  entry.slot = 0;
  auto inserted = insert(api_key, type, Lane::live, {entry});
  if (!inserted) return tl::unexpected(inserted.error());
  return {};
}

Expected<std::optional<ChunkOwner>> ChunkStore::remove_if_count(chunk::ChunkId id, std::uint64_t count) {
  Query q(*db_, delete_if_count_, "delete chunk");
  auto deleted = q.bind(id).bind(static_cast<std::int64_t>(count)).step();
  if (!deleted) return tl::unexpected(deleted.error());
  if (!*deleted) return std::optional<ChunkOwner>{};
  ChunkOwner owner{q.text(0), q.text(1), lane_of_column(q.integer(2))};
  // RETURNING's rows come before the statement is done: step it to the end, so the delete is complete.
  if (auto done = q.step(); !done) return tl::unexpected(done.error());
  return std::optional<ChunkOwner>(std::move(owner));
}

Expected<void> ChunkStore::remove(chunk::ChunkId id, std::string_view what) {
  Query q(*db_, delete_, what);
  if (auto r = q.bind(id).run(); !r) return tl::unexpected(r.error());
  return {};
}

Expected<LaneCounts> ChunkStore::count_records() {
  Query q(*db_, count_records_, "count records");
  LaneCounts counts;
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    const auto n = static_cast<std::uint64_t>(q.integer(1));
    if (lane_of_column(q.integer(0)) == Lane::backfill) counts.backfill += n;
    else counts.live += n;
  }
  return counts;
}

ChunkStore::DueScan ChunkStore::due(std::string_view api_key, std::string_view type, Lane lane, UnixMillis now) {
  return DueScan(*db_, select_due_, api_key, type, lane, now);
}

Expected<std::optional<ChunkStore::DueScan::Row>> ChunkStore::DueScan::next() {
  auto row = query_.step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<Row>{};
  return std::optional<Row>(Row{query_.integer(0), static_cast<std::uint64_t>(query_.integer(1))});
}

}  // namespace omt::queue::sqlite
