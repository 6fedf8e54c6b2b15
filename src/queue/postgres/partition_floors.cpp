#include "partition_floors.hpp"

namespace omt::queue::postgres {

namespace {

// The floors' own lock (a two-key advisory lock of a class no other lock uses): raising floors and forgetting them
// take it, so that a raise computed before a replay or a rekey committed never lands after it.
constexpr const char* kLockFloors = "SELECT pg_advisory_xact_lock(73054813, 0)";
constexpr const char* kTryLockFloors = "SELECT pg_try_advisory_xact_lock(73054813, 0)";

}  // namespace

std::string floor_of(const std::string& api_key, const std::string& type, const std::string& lane) {
  return "COALESCE((SELECT pf.floor_id FROM partition_floors pf WHERE pf.api_key = " + api_key +
         " AND pf.type = " + type + " AND pf.lane = " + lane + "), 0)";
}

Expected<void> forget_floors(Connection& db) {
  if (auto locked = db.exec(kLockFloors, "lock the partition floors"); !locked) return tl::unexpected(locked.error());
  if (auto gone = db.exec("DELETE FROM partition_floors", "forget the partition floors"); !gone) {
    return tl::unexpected(gone.error());
  }
  return {};
}

Expected<std::optional<std::int64_t>> FloorRaiser::last_id(Connection& db) {
  // With a sequence cache, a session hands out ids from its block long after it took it: no mark is safe then.
  auto seq = db.exec(
      "SELECT s.last_value, p.seqcache FROM records_id_seq s, pg_sequence p"
      " WHERE p.seqrelid = 'records_id_seq'::regclass",
      "read the records' sequence");
  if (!seq) return tl::unexpected(seq.error());
  if (seq->rows() != 1 || seq->integer(0, 1) != 1) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{seq->integer(0, 0)};
}

Expected<std::optional<FloorRaiser::Mark>> FloorRaiser::mark(Connection& db) {
  auto last = last_id(db);
  if (!last) return tl::unexpected(last.error());
  if (!*last) return std::optional<Mark>{};
  // Read after the sequence (a statement of its own): an id up to last_value went to a transaction that was open
  // then, so it is listed here or has ended. Every transaction holds its virtual id's lock from its start to its
  // end, whatever its role or database, and virtual ids are not reused.
  auto open = db.exec(
      "SELECT COALESCE(array_agg(virtualxid), '{}')::text FROM pg_locks WHERE locktype = 'virtualxid'"
      " AND mode = 'ExclusiveLock' AND granted AND pid <> pg_backend_pid()",
      "list the open transactions");
  if (!open) return tl::unexpected(open.error());
  // last_value may not be handed out yet (a sequence never used): the floor stays at it, never above.
  return std::optional<Mark>{Mark{**last, open->text(0, 0)}};
}

Expected<bool> FloorRaiser::step(Connection& db, const std::vector<FloorPartition>& partitions) {
  bool raised = false;
  if (mark_) {
    auto ready = settled(db);
    if (!ready) return tl::unexpected(ready.error());
    if (!*ready) return false;  // keep the mark: the next step looks again
    std::vector<std::string> keys, types;
    std::vector<std::int64_t> lanes;
    for (const auto& p : partitions) {
      keys.push_back(p.api_key);
      types.push_back(p.type);
      lanes.push_back(p.lane);
    }
    Params p;
    p.add(mark_->last_id).add_array(keys).add_array(types).add_array(lanes);
    auto done = db.exec_prepared("raise partition floors",
        "INSERT INTO partition_floors(api_key, type, lane, floor_id)"
        " SELECT p.api_key, p.type, p.lane, LEAST($1::bigint, COALESCE((SELECT r.id FROM records r"
        "   WHERE r.api_key = p.api_key AND r.type = p.type AND r.lane = p.lane AND r.id >= COALESCE(f.floor_id, 0)"
        "   ORDER BY r.id LIMIT 1), $1::bigint))"
        " FROM (SELECT * FROM unnest($2::text[], $3::text[], $4::smallint[])"
        "       UNION SELECT api_key, type, lane FROM partition_floors) AS p(api_key, type, lane)"
        " LEFT JOIN partition_floors f ON f.api_key = p.api_key AND f.type = p.type AND f.lane = p.lane"
        " ON CONFLICT (api_key, type, lane) DO UPDATE SET floor_id = EXCLUDED.floor_id"
        " WHERE EXCLUDED.floor_id > partition_floors.floor_id",  // a floor never falls, and one that stays is not rewritten
        p, "raise the partition floors");
    if (!done) return tl::unexpected(done.error());
    raised = true;
  }
  auto marked = mark(db);
  if (!marked) return tl::unexpected(marked.error());
  mark_ = *marked;
  return raised;
}

Expected<bool> FloorRaiser::settled(Connection& db) {
  // Busy: a replay or a rekey forgets the floors now, and may take long. The next step tries again.
  auto locked = db.exec(kTryLockFloors, "lock the partition floors");
  if (!locked) return tl::unexpected(locked.error());
  if (locked->text(0, 0) != "t") return false;
  // The sequence set back (a migration into a queue used before, an operator's setval): ids up to the mark come
  // again, and the mark is worth nothing.
  auto last = last_id(db);
  if (!last) return tl::unexpected(last.error());
  if (!*last || **last < mark_->last_id) {
    mark_.reset();
    return false;
  }
  Params open;
  open.add(mark_->open_transactions);
  auto ended = db.exec(
      "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'virtualxid' AND mode = 'ExclusiveLock'"
      " AND granted AND virtualxid = ANY($1::text[]))",
      open, "look for the transactions open at the partition floors' mark");
  if (!ended) return tl::unexpected(ended.error());
  if (ended->text(0, 0) != "t") return false;
  // After the check above (a statement of its own): a transaction open at the mark that prepared (two-phase
  // commit) gave up its virtual id but is listed here until it commits.
  auto prepared = db.exec("SELECT NOT EXISTS (SELECT 1 FROM pg_prepared_xacts)", "look for prepared transactions");
  if (!prepared) return tl::unexpected(prepared.error());
  return prepared->text(0, 0) == "t";
}

}  // namespace omt::queue::postgres
