#include "dead_letter_store.hpp"

namespace omt::queue::sqlite {

Expected<DeadLetterStore> DeadLetterStore::prepare(Connection& db) {
  DeadLetterStore store(db);
  auto prepared = db.prepare_each({
      {&store.insert_,
       "INSERT OR REPLACE INTO dead_letters(id, api_key, type, json, attempts, created_at, reason, dead_at)"
       " VALUES(?, ?, ?, ?, ?, ?, ?, ?)"},
      {&store.select_ids_, "SELECT id FROM dead_letters ORDER BY id LIMIT ?"},
      {&store.select_,
       "SELECT id, api_key, type, json, attempts, created_at, reason, dead_at FROM dead_letters WHERE id = ?"},
      {&store.delete_, "DELETE FROM dead_letters WHERE id = ?"},
      {&store.count_, "SELECT COUNT(*) FROM dead_letters"},
  });
  if (!prepared) return tl::unexpected(prepared.error());
  return store;
}

Expected<void> DeadLetterStore::insert(const DeadRow& row, std::string_view what) {
  Query q(*db_, insert_, what);
  q.bind(row.id).bind(row.api_key).bind(row.type).bind(row.json);
  q.bind(row.attempts).bind(row.created_at).bind(row.reason).bind(row.dead_at);
  if (auto r = q.run(); !r) return tl::unexpected(r.error());
  return {};
}

Expected<std::vector<RecordId>> DeadLetterStore::select_ids(const DeadLetterSelection& which) {
  if (!which.ids.empty()) return which.ids;
  std::vector<RecordId> ids;
  Query q(*db_, select_ids_, "select dead letters");
  q.bind(which.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(which.limit));
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    ids.push_back(q.integer(0));
  }
  return ids;
}

Expected<std::optional<DeadRow>> DeadLetterStore::read(RecordId id) {
  Query q(*db_, select_, "read dead letter");
  auto row = q.bind(id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<DeadRow>{};
  return std::optional<DeadRow>(DeadRow{q.integer(0), q.text(1), q.text(2), q.text(3), q.integer(4), q.integer(5),
                                        q.text(6), q.integer(7)});
}

Expected<std::size_t> DeadLetterStore::remove(RecordId id, std::string_view what) {
  Query q(*db_, delete_, what);
  return q.bind(id).run();
}

Expected<std::uint64_t> DeadLetterStore::count() {
  Query q(*db_, count_, "count dead letters");
  auto row = q.step();
  if (!row) return tl::unexpected(row.error());
  return static_cast<std::uint64_t>(q.integer(0));
}

}  // namespace omt::queue::sqlite
