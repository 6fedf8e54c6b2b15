// The PostgreSQL queue's lanes (queue::Lane, stored as records.lane: 0 live, 1 backfill) and lane_totals (schema
// version 2): what left each (api key, type, lane), counted in the same statement that moves the records out, so
// the totals never disagree with the queue. Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::postgres {

// A change to (or a count of) the records waiting in each lane.
struct LaneCounts {
  std::int64_t live = 0;
  std::int64_t backfill = 0;
  std::int64_t total() const { return live + backfill; }
};

constexpr Lane lane_of_column(std::int64_t value) { return value == 1 ? Lane::backfill : Lane::live; }
constexpr std::int64_t lane_column(Lane lane) { return lane == Lane::backfill ? 1 : 0; }

LaneCounts lanes_of(const std::vector<const NewRecord*>& records);
LaneCounts lanes_of(const std::vector<NewRecord>& records);

enum class CountedAs { delivered, dead_lettered };

// Runs `ctes`: "moved AS (DELETE FROM records ... RETURNING *)" and any further CTEs over moved (the dead-letter
// insert), with p; what moved is added to lane_totals in the same statement. Returns how many moved per lane.
// `what` names the step in errors and the statement prepared on the connection: one `ctes` per `what`.
Expected<LaneCounts> move_out(Connection& db, std::string_view ctes, const Params& p, CountedAs as, std::string_view what);

// The records waiting in each lane (an exact count: at open, never per operation).
Expected<LaneCounts> count_lanes(Connection& db);

// Adds the lane totals to stats whose partitions hold the waiting records: each total joins its partition, or
// (nothing waits there) is listed in drained; both ordered by api key, type name, lane, as the SQLite queue lists them.
Expected<void> add_lane_totals(Connection& db, QueueStats& stats);

}  // namespace omt::queue::postgres
