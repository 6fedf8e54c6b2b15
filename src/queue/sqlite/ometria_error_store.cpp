#include "ometria_error_store.hpp"

#include <optional>

#include "../ometria_error_ids.hpp"

namespace omt::queue::sqlite {

Expected<OmetriaErrorStore> OmetriaErrorStore::prepare(Connection& db, std::size_t keep) {
  OmetriaErrorStore store(db, keep);
  static constexpr const char* kColumns =
      "id, api_key, message, path, record_id, request_id, record_type, time_stamp, occurrences, first_seen_at,"
      " last_seen_at, latest_new_at, matched_record_ids, matched_request_id, matched_type, matched_pushed_at";
  static const std::string list_sql =
      std::string("SELECT ") + kColumns + " FROM ometria_errors ORDER BY latest_new_at DESC, id DESC LIMIT ?";
  auto prepared = db.prepare_each({
      {&store.find_, "SELECT id, occurrences FROM ometria_errors WHERE api_key = ? AND digest = ?"},
      {&store.insert_,
       "INSERT INTO ometria_errors(api_key, digest, message, path, record_id, request_id, record_type, time_stamp,"
       " occurrences, first_seen_at, last_seen_at, latest_new_at, matched_record_ids, matched_request_id,"
       " matched_type, matched_pushed_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
      // The right-hand sides read the row as it was: occurrences there is the old count.
      {&store.update_,
       "UPDATE ometria_errors SET latest_new_at = CASE WHEN ?1 > occurrences THEN ?2 ELSE latest_new_at END,"
       " occurrences = MAX(occurrences, ?1), last_seen_at = ?2,"
       " matched_record_ids = COALESCE(matched_record_ids, ?3), matched_request_id = COALESCE(matched_request_id, ?4),"
       " matched_type = COALESCE(matched_type, ?5), matched_pushed_at = COALESCE(matched_pushed_at, ?6)"
       " WHERE id = ?7"},
      {&store.trim_,
       "DELETE FROM ometria_errors WHERE id IN"
       " (SELECT id FROM ometria_errors ORDER BY last_seen_at DESC, id DESC LIMIT -1 OFFSET ?)"},
      {&store.list_, list_sql.c_str()},
      {&store.by_key_,
       "SELECT api_key, SUM(occurrences), MAX(latest_new_at) FROM ometria_errors GROUP BY api_key ORDER BY api_key"},
  });
  if (!prepared) return tl::unexpected(prepared.error());
  return store;
}

Expected<std::vector<delivery::SeenError>> OmetriaErrorStore::record(const std::string& api_key,
                                                                     const std::vector<delivery::SeenError>& seen,
                                                                     std::int64_t now) {
  std::vector<delivery::SeenError> fresh;
  for (const auto& s : seen) {
    std::optional<std::int64_t> row_id;
    std::int64_t kept_occurrences = 0;
    {
      Query q(*db_, find_, "find an Ometria error");
      auto row = q.bind(api_key).bind(s.digest).step();
      if (!row) return tl::unexpected(row.error());
      if (*row) {
        row_id = q.integer(0);
        kept_occurrences = q.integer(1);
      }
    }
    const auto occurrences = static_cast<std::int64_t>(s.occurrences);
    const std::optional<std::string> ids = matched_ids_text(s.match);
    const std::optional<std::string> request_id = s.match ? std::optional<std::string>(s.match->request_id) : std::nullopt;
    const std::optional<std::string> type = s.match ? std::optional<std::string>(s.match->type) : std::nullopt;
    if (!row_id) {
      Query q(*db_, insert_, "store an Ometria error");
      q.bind(api_key).bind(s.digest).bind(s.error.message).bind(s.error.path).bind_optional(s.error.record_id);
      q.bind_optional(s.error.request_id).bind_optional(s.error.record_type).bind_optional(s.error.time_stamp);
      q.bind(occurrences).bind(now).bind(now).bind(now).bind_optional(ids).bind_optional(request_id).bind_optional(type);
      if (s.match) q.bind(s.match->pushed_at_unix_ms);
      else q.bind_optional(std::nullopt);
      if (auto r = q.run(); !r) return tl::unexpected(r.error());
      fresh.push_back(s);
      continue;
    }
    Query q(*db_, update_, "update an Ometria error");
    q.bind(occurrences).bind(now).bind_optional(ids).bind_optional(request_id).bind_optional(type);
    if (s.match) q.bind(s.match->pushed_at_unix_ms);
    else q.bind_optional(std::nullopt);
    q.bind(*row_id);
    if (auto r = q.run(); !r) return tl::unexpected(r.error());
    if (occurrences > kept_occurrences) {
      delivery::SeenError more = s;
      more.occurrences = static_cast<std::uint32_t>(occurrences - kept_occurrences);
      fresh.push_back(std::move(more));
    }
  }
  Query trim(*db_, trim_, "trim the Ometria errors");
  if (auto r = trim.bind(static_cast<std::int64_t>(keep_)).run(); !r) return tl::unexpected(r.error());
  return fresh;
}

Expected<std::vector<StoredOmetriaError>> OmetriaErrorStore::list(std::size_t limit) {
  std::vector<StoredOmetriaError> out;
  Query q(*db_, list_, "list Ometria errors");
  q.bind(limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    StoredOmetriaError e;
    e.id = q.integer(0);
    e.api_key = q.text(1);
    e.error.message = q.text(2);
    e.error.path = q.text(3);
    e.error.record_id = q.optional_text(4);
    e.error.request_id = q.optional_text(5);
    e.error.record_type = q.optional_text(6);
    e.error.time_stamp = q.optional_text(7);
    e.occurrences = static_cast<std::uint32_t>(q.integer(8));
    e.first_seen_at = q.integer(9);
    e.last_seen_at = q.integer(10);
    e.latest_new_at = q.integer(11);
    if (!q.is_null(12)) {
      e.match = delivery::ErrorMatch{matched_ids_from_text(q.text(12)), q.text(13), q.text(14), q.integer(15)};
    }
    out.push_back(std::move(e));
  }
  return out;
}

Expected<std::vector<OmetriaErrorsOfKey>> OmetriaErrorStore::by_key() {
  std::vector<OmetriaErrorsOfKey> out;
  Query q(*db_, by_key_, "count Ometria errors by key");
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    out.push_back(OmetriaErrorsOfKey{q.text(0), static_cast<std::uint64_t>(q.integer(1)), q.integer(2)});
  }
  return out;
}

}  // namespace omt::queue::sqlite
