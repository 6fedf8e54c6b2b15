#include "lane_store.hpp"

#include <map>
#include <string>
#include <tuple>

namespace omt::queue::postgres {

LaneCounts lanes_of(const std::vector<const NewRecord*>& records) {
  LaneCounts counts;
  for (const NewRecord* r : records) ++(r->lane == Lane::backfill ? counts.backfill : counts.live);
  return counts;
}

LaneCounts lanes_of(const std::vector<NewRecord>& records) {
  LaneCounts counts;
  for (const NewRecord& r : records) ++(r.lane == Lane::backfill ? counts.backfill : counts.live);
  return counts;
}

Expected<LaneCounts> move_out(Connection& db, std::string_view ctes, const Params& p, CountedAs as, std::string_view what) {
  const char* counts = as == CountedAs::delivered ? "COUNT(*), 0" : "0, COUNT(*)";
  // Ordered, so that instances counting into the same rows lock them in one order (no deadlock between them).
  const std::string sql =
      "WITH " + std::string(ctes) +
      ", counted AS (INSERT INTO lane_totals(api_key, type, lane, delivered, dead_lettered)"
      " SELECT api_key, type, lane, " + counts + " FROM moved GROUP BY api_key, type, lane ORDER BY api_key, type, lane"
      " ON CONFLICT (api_key, type, lane) DO UPDATE SET delivered = lane_totals.delivered + EXCLUDED.delivered,"
      " dead_lettered = lane_totals.dead_lettered + EXCLUDED.dead_lettered)"
      " SELECT lane, COUNT(*) FROM moved GROUP BY lane";
  auto rows = db.exec_prepared(what, sql, p, what);  // one statement per `what`: ack, dead-letter, ...
  if (!rows) return tl::unexpected(rows.error());
  LaneCounts moved;
  for (int r = 0; r < rows->rows(); ++r) {
    (lane_of_column(rows->integer(r, 0)) == Lane::backfill ? moved.backfill : moved.live) += rows->integer(r, 1);
  }
  return moved;
}

Expected<LaneCounts> count_lanes(Connection& db) {
  auto rows = db.exec("SELECT lane, COUNT(*) FROM records GROUP BY lane", "count records");
  if (!rows) return tl::unexpected(rows.error());
  LaneCounts counts;
  for (int r = 0; r < rows->rows(); ++r) {
    (lane_of_column(rows->integer(r, 0)) == Lane::backfill ? counts.backfill : counts.live) += rows->integer(r, 1);
  }
  return counts;
}

Expected<void> add_lane_totals(Connection& db, QueueStats& stats) {
  auto rows = db.exec("SELECT api_key, type, lane, delivered, dead_lettered FROM lane_totals", "queue totals");
  if (!rows) return tl::unexpected(rows.error());
  std::map<std::tuple<std::string, std::string, Lane>, PartitionStats> partitions;
  for (auto& p : stats.partitions) {
    const std::string type(ometria::to_string(p.type));
    partitions.emplace(std::make_tuple(p.api_key, type, p.lane), std::move(p));
  }
  for (auto& p : stats.drained) {
    const std::string type(ometria::to_string(p.type));
    partitions.emplace(std::make_tuple(p.api_key, type, p.lane), std::move(p));
  }
  stats.partitions.clear();
  stats.drained.clear();
  for (int r = 0; r < rows->rows(); ++r) {
    const std::string type_name = rows->text(r, 1);
    const auto type = ometria::record_type_from(type_name);
    if (!type) return fail(errc::io, "queue: postgres: a total has an unknown type \"" + type_name + "\"", db.where());
    const Lane lane = lane_of_column(rows->integer(r, 2));
    auto [it, added] = partitions.try_emplace(std::make_tuple(rows->text(r, 0), type_name, lane));
    if (added) {
      it->second.api_key = rows->text(r, 0);
      it->second.type = *type;
      it->second.lane = lane;
    }
    it->second.delivered = static_cast<std::uint64_t>(rows->integer(r, 3));
    it->second.dead_lettered = static_cast<std::uint64_t>(rows->integer(r, 4));
  }
  for (auto& [key, p] : partitions) (p.depth > 0 ? stats.partitions : stats.drained).push_back(std::move(p));
  return {};
}

}  // namespace omt::queue::postgres
