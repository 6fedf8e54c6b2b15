// Why the bound is kept by id, as in SQLite: ids only grow (a sequence) and rows leave only from the lowest, so the
// newest `keep` entries are those above MAX(id) - keep, and trimming is one range delete on the primary key, never a
// count of the table. (A gap in the ids, which a rolled-back insert leaves, makes it keep fewer, never more.)
#include "request_log_store.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "omt/ometria/transformer.hpp"

namespace omt::queue::postgres {

namespace {

constexpr std::size_t kColumns = 12;
constexpr std::size_t kEntriesPerStatement = 1000;  // 12 000 parameters, far below PostgreSQL's 65 535

std::optional<std::string> optional_number(const std::optional<std::int64_t>& value) {
  if (!value) return std::nullopt;
  return std::to_string(*value);
}
std::optional<std::int64_t> optional_integer(const Result& rows, int row, int column) {
  if (rows.is_null(row, column)) return std::nullopt;
  return rows.integer(row, column);
}

}  // namespace

Expected<void> insert_request_log(Connection& db, const std::vector<RequestLogEntry>& entries) {
  for (std::size_t from = 0; from < entries.size(); from += kEntriesPerStatement) {
    const std::size_t to = std::min(entries.size(), from + kEntriesPerStatement);
    std::string sql =
        "INSERT INTO request_log(at, source, key_fingerprint, type, lane, records, status, failure, request_id,"
        " accepted, rejected, duration_ms) VALUES";
    Params p;
    for (std::size_t i = from; i < to; ++i) {
      const RequestLogEntry& e = entries[i];
      sql += i == from ? "(" : ",(";
      for (std::size_t c = 0; c < kColumns; ++c) {
        if (c) sql += ',';
        sql += '$' + std::to_string((i - from) * kColumns + c + 1);
      }
      sql += ')';
      p.add(e.at).add(e.source).add(e.key_fingerprint).add(ometria::to_string(e.type)).add(lane_name(e.lane));
      p.add(std::int64_t{e.records}).add(std::int64_t{e.status}).add(e.failure).add(e.request_id);
      p.add(optional_number(e.accepted)).add(optional_number(e.rejected)).add(e.duration_ms);
    }
    if (auto r = db.exec(sql, p, "log pushes"); !r) return tl::unexpected(r.error());
  }
  return {};
}

Expected<std::uint64_t> trim_request_log(Connection& db, std::uint64_t keep) {
  Params p;
  p.add(static_cast<std::int64_t>(std::min<std::uint64_t>(keep, std::numeric_limits<std::int64_t>::max())));
  auto dropped = db.exec_prepared("trim request log", "DELETE FROM request_log WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM request_log) - $1", p,
                         "drop the oldest logged pushes");
  if (!dropped) return tl::unexpected(dropped.error());
  return static_cast<std::uint64_t>(dropped->changed());
}

Expected<std::vector<LoggedRequest>> select_request_log(Connection& db, const RequestLogSelection& which) {
  constexpr auto most = std::numeric_limits<std::int64_t>::max();
  Params p;
  p.add(which.after_id != 0 ? which.after_id : (which.newest_first ? most : std::int64_t{0}));
  p.add(which.since.value_or(std::numeric_limits<std::int64_t>::min())).add(which.source);
  p.add(std::int64_t{which.status_from.value_or(std::numeric_limits<int>::min())});
  p.add(std::int64_t{which.status_to.value_or(std::numeric_limits<int>::max())});
  if (which.limit == 0) p.add_null();  // LIMIT NULL: no limit
  else p.add(static_cast<std::int64_t>(which.limit));
  // A source holds ", "-separated names: $3 is one of them.
  const std::string sql =
      std::string("SELECT id, at, source, key_fingerprint, type, lane, records, status, failure, request_id, accepted,"
                  " rejected, duration_ms FROM request_log WHERE at >= $2"
                  " AND ($3 = '' OR strpos(', ' || source || ', ', ', ' || $3 || ', ') > 0)"
                  " AND status BETWEEN $4 AND $5") +
      (which.newest_first ? " AND id < $1 ORDER BY id DESC LIMIT $6" : " AND id > $1 ORDER BY id LIMIT $6");
  auto rows = db.exec(sql, p, "read the request log");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<LoggedRequest> out;
  for (int r = 0; r < rows->rows(); ++r) {
    LoggedRequest logged;
    logged.id = rows->integer(r, 0);
    RequestLogEntry& e = logged.entry;
    e.at = rows->integer(r, 1);
    e.source = rows->text(r, 2);
    e.key_fingerprint = rows->text(r, 3);
    const std::string type = rows->text(r, 4);
    const auto parsed = ometria::record_type_from(type);
    if (!parsed) return fail(errc::io, "queue: postgres: a logged push has an unknown type \"" + type + "\"", db.where());
    e.type = *parsed;
    e.lane = rows->text(r, 5) == lane_name(Lane::backfill) ? Lane::backfill : Lane::live;
    e.records = static_cast<std::uint32_t>(rows->integer(r, 6));
    e.status = static_cast<int>(rows->integer(r, 7));
    e.failure = rows->text(r, 8);
    e.request_id = rows->optional_text(r, 9);
    e.accepted = optional_integer(*rows, r, 10);
    e.rejected = optional_integer(*rows, r, 11);
    e.duration_ms = rows->integer(r, 12);
    out.push_back(std::move(logged));
  }
  return out;
}

PendingRequestLog::Added PendingRequestLog::add(std::vector<RequestLogEntry>& entries, RequestLog::LogDone& done) {
  std::lock_guard lock(mutex_);
  if (waiting_.entries.size() + entries.size() > max_entries_) return Added::refused;
  waiting_.entries.insert(waiting_.entries.end(), std::make_move_iterator(entries.begin()),
                          std::make_move_iterator(entries.end()));
  waiting_.waiting.push_back(std::move(done));
  return std::exchange(write_queued_, true) ? Added::joined : Added::needs_write;
}

PendingRequestLog::Batch PendingRequestLog::take() {
  std::lock_guard lock(mutex_);
  write_queued_ = false;
  return std::exchange(waiting_, Batch{});
}

}  // namespace omt::queue::postgres
