// Why the bound is kept by id: ids only grow (AUTOINCREMENT) and rows leave only from the lowest, so the newest
// `keep` entries are those above MAX(id) - keep, and trimming is one range delete on the rowid, never a count of
// the table. (A gap in the ids, which only a failed insert could leave, makes it keep fewer, never more.)
#include "request_log_store.hpp"

#include <limits>
#include <string>

#include "omt/ometria/transformer.hpp"

namespace omt::queue::sqlite {

namespace {

constexpr const char* kColumns =
    "id, at, source, key_fingerprint, type, lane, records, status, failure, request_id, accepted, rejected, duration_ms";
// ?1 is the paging cursor (each order adds its own test). A source holds ", "-separated names: ?3 is one of them,
// whole. A ?3 holding ", " is never one name (it would match names joined), so it matches nothing.
constexpr const char* kWhere =
    " FROM request_log WHERE at >= ?2 AND (?3 = '' OR"
    " (instr(?3, ', ') = 0 AND instr(', ' || source || ', ', ', ' || ?3 || ', ') > 0))"
    " AND status BETWEEN ?4 AND ?5";

std::optional<std::int64_t> optional_integer(const Query& q, int column) {
  if (q.is_null(column)) return std::nullopt;
  return q.integer(column);
}

}  // namespace

Expected<RequestLogStore> RequestLogStore::prepare(Connection& db) {
  RequestLogStore store(db);
  static const std::string newest_first =
      std::string("SELECT ") + kColumns + kWhere + " AND id < ?1 ORDER BY id DESC LIMIT ?6";
  static const std::string oldest_first =
      std::string("SELECT ") + kColumns + kWhere + " AND id > ?1 ORDER BY id LIMIT ?6";
  auto prepared = db.prepare_each({
      {&store.insert_,
       "INSERT INTO request_log(at, source, key_fingerprint, type, lane, records, status, failure, request_id,"
       " accepted, rejected, duration_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
      {&store.newest_id_, "SELECT COALESCE(MAX(id), 0) FROM request_log"},
      {&store.drop_up_to_, "DELETE FROM request_log WHERE id <= ?"},
      {&store.newest_first_, newest_first.c_str()},
      {&store.oldest_first_, oldest_first.c_str()},
  });
  if (!prepared) return tl::unexpected(prepared.error());
  return store;
}

Expected<void> RequestLogStore::insert(const RequestLogEntry& e) {
  const auto optional_number = [](Query& q, const std::optional<std::int64_t>& value) -> Query& {
    if (value) return q.bind(*value);
    return q.bind_optional(std::nullopt);
  };
  Query q(*db_, insert_, "log a push");
  q.bind(e.at).bind(e.source).bind(e.key_fingerprint).bind(ometria::to_string(e.type)).bind(lane_name(e.lane));
  q.bind(std::int64_t{e.records}).bind(std::int64_t{e.status}).bind(e.failure).bind_optional(e.request_id);
  optional_number(q, e.accepted);
  optional_number(q, e.rejected);
  q.bind(e.duration_ms);
  if (auto r = q.run(); !r) return tl::unexpected(r.error());
  return {};
}

Expected<std::uint64_t> RequestLogStore::trim(std::uint64_t keep) {
  std::int64_t newest = 0;
  {
    Query q(*db_, newest_id_, "find the newest logged push");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    newest = q.integer(0);
  }
  if (static_cast<std::uint64_t>(newest) <= keep) return std::uint64_t{0};
  Query q(*db_, drop_up_to_, "drop the oldest logged pushes");
  auto dropped = q.bind(newest - static_cast<std::int64_t>(keep)).run();
  if (!dropped) return tl::unexpected(dropped.error());
  return static_cast<std::uint64_t>(*dropped);
}

Expected<std::vector<LoggedRequest>> RequestLogStore::select(const RequestLogSelection& which) {
  constexpr auto most = std::numeric_limits<std::int64_t>::max();
  std::vector<LoggedRequest> out;
  Query q(*db_, which.newest_first ? newest_first_ : oldest_first_, "read the request log");
  q.bind(which.after_id != 0 ? which.after_id : (which.newest_first ? most : std::int64_t{0}));
  q.bind(which.since.value_or(std::numeric_limits<std::int64_t>::min())).bind(which.source);
  q.bind(std::int64_t{which.status_from.value_or(std::numeric_limits<int>::min())});
  q.bind(std::int64_t{which.status_to.value_or(std::numeric_limits<int>::max())});
  q.bind(which.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(which.limit));
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    LoggedRequest r;
    r.id = q.integer(0);
    RequestLogEntry& e = r.entry;
    e.at = q.integer(1);
    e.source = q.text(2);
    e.key_fingerprint = q.text(3);
    const std::string type = q.text(4);
    const auto parsed = ometria::record_type_from(type);
    if (!parsed) return fail(errc::io, "queue: a logged push has an unknown type \"" + type + "\"", db_->path().string());
    e.type = *parsed;
    e.lane = q.text(5) == lane_name(Lane::backfill) ? Lane::backfill : Lane::live;
    e.records = static_cast<std::uint32_t>(q.integer(6));
    e.status = static_cast<int>(q.integer(7));
    e.failure = q.text(8);
    e.request_id = q.optional_text(9);
    e.accepted = optional_integer(q, 10);
    e.rejected = optional_integer(q, 11);
    e.duration_ms = q.integer(12);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace omt::queue::sqlite
