#include "ometria_error_store.hpp"

#include <optional>

#include "../ometria_error_ids.hpp"

namespace omt::queue::postgres {

namespace {

void add_match(Params& p, const std::optional<delivery::ErrorMatch>& match) {
  p.add(matched_ids_text(match));
  p.add(match ? std::optional<std::string>(match->request_id) : std::nullopt);
  p.add(match ? std::optional<std::string>(match->type) : std::nullopt);
  if (match) p.add(match->pushed_at_unix_ms);
  else p.add_null();
}

}  // namespace

Expected<std::vector<delivery::SeenError>> record_ometria_errors(Connection& db, const std::string& api_key,
                                                                 const std::vector<delivery::SeenError>& seen,
                                                                 std::int64_t now, std::size_t keep) {
  std::vector<delivery::SeenError> fresh;
  for (const auto& s : seen) {
    Params key;
    key.add(api_key).add(s.digest);
    auto found = db.exec("SELECT id, occurrences FROM ometria_errors WHERE api_key = $1 AND digest = $2", key,
                         "find an Ometria error");
    if (!found) return tl::unexpected(found.error());
    const auto occurrences = static_cast<std::int64_t>(s.occurrences);
    if (found->rows() == 0) {
      Params p;
      p.add(api_key).add(s.digest).add(s.error.message).add(s.error.path).add(s.error.record_id);
      p.add(s.error.request_id).add(s.error.record_type).add(s.error.time_stamp);
      p.add(occurrences).add(now).add(now).add(now);
      add_match(p, s.match);
      auto inserted = db.exec(
          "INSERT INTO ometria_errors(api_key, digest, message, path, record_id, request_id, record_type, time_stamp,"
          " occurrences, first_seen_at, last_seen_at, latest_new_at, matched_record_ids, matched_request_id,"
          " matched_type, matched_pushed_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
          p, "store an Ometria error");
      if (!inserted) return tl::unexpected(inserted.error());
      fresh.push_back(s);
      continue;
    }
    const std::int64_t row_id = found->integer(0, 0), kept_occurrences = found->integer(0, 1);
    Params p;
    p.add(occurrences).add(now);
    add_match(p, s.match);
    p.add(row_id);
    // The right-hand sides read the row as it was: occurrences there is the old count.
    auto updated = db.exec(
        "UPDATE ometria_errors SET latest_new_at = CASE WHEN $1 > occurrences THEN $2 ELSE latest_new_at END,"
        " occurrences = GREATEST(occurrences, $1), last_seen_at = $2,"
        " matched_record_ids = COALESCE(matched_record_ids, $3), matched_request_id = COALESCE(matched_request_id, $4),"
        " matched_type = COALESCE(matched_type, $5), matched_pushed_at = COALESCE(matched_pushed_at, $6)"
        " WHERE id = $7",
        p, "update an Ometria error");
    if (!updated) return tl::unexpected(updated.error());
    if (occurrences > kept_occurrences) {
      delivery::SeenError more = s;
      more.occurrences = static_cast<std::uint32_t>(occurrences - kept_occurrences);
      fresh.push_back(std::move(more));
    }
  }
  Params p;
  p.add(static_cast<std::int64_t>(keep));
  auto trimmed = db.exec(
      "DELETE FROM ometria_errors WHERE id IN"
      " (SELECT id FROM ometria_errors ORDER BY last_seen_at DESC, id DESC OFFSET $1)",
      p, "trim the Ometria errors");
  if (!trimmed) return tl::unexpected(trimmed.error());
  return fresh;
}

Expected<std::vector<StoredOmetriaError>> list_ometria_errors(Connection& db, std::size_t limit) {
  Params p;
  if (limit == 0) p.add_null();  // LIMIT NULL: all
  else p.add(static_cast<std::int64_t>(limit));
  auto rows = db.exec(
      "SELECT id, api_key, message, path, record_id, request_id, record_type, time_stamp, occurrences, first_seen_at,"
      " last_seen_at, latest_new_at, matched_record_ids, matched_request_id, matched_type, matched_pushed_at"
      " FROM ometria_errors ORDER BY latest_new_at DESC, id DESC LIMIT $1",
      p, "list Ometria errors");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<StoredOmetriaError> out;
  for (int r = 0; r < rows->rows(); ++r) {
    StoredOmetriaError e;
    e.id = rows->integer(r, 0);
    e.api_key = rows->text(r, 1);
    e.error.message = rows->text(r, 2);
    e.error.path = rows->text(r, 3);
    e.error.record_id = rows->optional_text(r, 4);
    e.error.request_id = rows->optional_text(r, 5);
    e.error.record_type = rows->optional_text(r, 6);
    e.error.time_stamp = rows->optional_text(r, 7);
    e.occurrences = static_cast<std::uint32_t>(rows->integer(r, 8));
    e.first_seen_at = rows->integer(r, 9);
    e.last_seen_at = rows->integer(r, 10);
    e.latest_new_at = rows->integer(r, 11);
    if (!rows->is_null(r, 12)) {
      e.match = delivery::ErrorMatch{matched_ids_from_text(rows->text(r, 12)), rows->text(r, 13), rows->text(r, 14),
                                     rows->integer(r, 15)};
    }
    out.push_back(std::move(e));
  }
  return out;
}

Expected<std::vector<OmetriaErrorsOfKey>> ometria_errors_by_key(Connection& db) {
  auto rows = db.exec(
      "SELECT api_key, SUM(occurrences), MAX(latest_new_at) FROM ometria_errors GROUP BY api_key ORDER BY api_key",
      "count Ometria errors by key");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<OmetriaErrorsOfKey> out;
  for (int r = 0; r < rows->rows(); ++r) {
    out.push_back(OmetriaErrorsOfKey{rows->text(r, 0), static_cast<std::uint64_t>(rows->integer(r, 1)), rows->integer(r, 2)});
  }
  return out;
}

}  // namespace omt::queue::postgres
