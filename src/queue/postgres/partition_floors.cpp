#include "partition_floors.hpp"

namespace omt::queue::postgres {

namespace {

// The floors' own lock (a two-key advisory lock of a class no other lock uses): raising floors and forgetting them
// take it, so that a raise computed before a replay committed never lands after it.
constexpr const char* kLockFloors = "SELECT pg_advisory_xact_lock(73054813, 0)";

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

Expected<std::optional<FloorRaiser::Mark>> FloorRaiser::mark(Connection& db) {
  // With a sequence cache, a session hands out ids from its block long after it took it: no mark is safe then.
  auto seq = db.exec(
      "SELECT s.last_value, p.seqcache FROM records_id_seq s, pg_sequence p"
      " WHERE p.seqrelid = 'records_id_seq'::regclass",
      "read the records' sequence");
  if (!seq) return tl::unexpected(seq.error());
  if (seq->rows() != 1 || seq->integer(0, 1) != 1) return std::optional<Mark>{};
  // Read after the sequence: an id up to last_value went to a transaction that started before this time.
  auto clock = db.exec("SELECT clock_timestamp()", "read the database's clock");
  if (!clock) return tl::unexpected(clock.error());
  // last_value may not be handed out yet (a sequence never used): the floor stays at it, never above.
  return std::optional<Mark>{Mark{seq->integer(0, 0), clock->text(0, 0)}};
}

Expected<bool> FloorRaiser::step(Connection& db, const std::vector<FloorPartition>& partitions) {
  bool raised = false;
  if (mark_) {
    if (auto locked = db.exec(kLockFloors, "lock the partition floors"); !locked) return tl::unexpected(locked.error());
    // A session whose transaction this role may not see (its state is NULL) might hold an id: wait for it as well.
    Params since;
    since.add(mark_->at);
    auto settled = db.exec(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND (xact_start <= $1::timestamptz OR (xact_start IS NULL AND state IS DISTINCT FROM 'idle')))"
        " AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE database = current_database())",
        since, "look for transactions older than the partition floors' mark");
    if (!settled) return tl::unexpected(settled.error());
    if (settled->text(0, 0) != "t") return false;  // keep the mark: the next step looks again
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
        " ORDER BY 1, 2, 3"  // instances raising the same floors lock them in one order
        " ON CONFLICT (api_key, type, lane) DO UPDATE SET floor_id = GREATEST(partition_floors.floor_id, EXCLUDED.floor_id)",
        p, "raise the partition floors");
    if (!done) return tl::unexpected(done.error());
    raised = true;
  }
  auto marked = mark(db);
  if (!marked) return tl::unexpected(marked.error());
  mark_ = *marked;
  return raised;
}

}  // namespace omt::queue::postgres
