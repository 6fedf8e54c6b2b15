#include "rejected_event_store.hpp"

#include <limits>

namespace omt::queue::sqlite {

Expected<RejectedEventStore> RejectedEventStore::prepare(Connection& db) {
  RejectedEventStore store(db);
  auto prepared = db.prepare_each({
      {&store.insert_, "INSERT INTO rejected_events(source, route, reason, rejected_at, event) VALUES(?, ?, ?, ?, ?)"},
      {&store.id_span_, "SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM rejected_events"},
      {&store.count_, "SELECT COUNT(*) FROM rejected_events"},
      {&store.drop_oldest_,
       "DELETE FROM rejected_events WHERE id IN (SELECT id FROM rejected_events ORDER BY id LIMIT ?)"},
      {&store.select_,
       "SELECT id, source, route, reason, rejected_at, event FROM rejected_events"
       " WHERE id > ? AND rejected_at >= ? AND (? = '' OR source = ?) ORDER BY id LIMIT ?"},
      {&store.delete_, "DELETE FROM rejected_events WHERE id = ?"},
      {&store.update_reason_, "UPDATE rejected_events SET reason = ? WHERE id = ?"},
  });
  if (!prepared) return tl::unexpected(prepared.error());
  return store;
}

Expected<void> RejectedEventStore::insert(const NewRejectedEvent& event, UnixMillis at) {
  Query q(*db_, insert_, "store rejected event");
  q.bind(event.source).bind(event.route).bind(event.reason).bind(at).bind(event.event);
  if (auto r = q.run(); !r) return tl::unexpected(r.error());
  return {};
}

Expected<std::uint64_t> RejectedEventStore::trim(std::uint64_t max_events) {
  // Ids only grow, so the span of ids bounds the count: when it is within the bound (the usual case), the exact
  // count, which walks the table, is not needed.
  {
    Query q(*db_, id_span_, "measure rejected events");
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (*row && static_cast<std::uint64_t>(q.integer(0)) <= max_events) return std::uint64_t{0};
  }
  std::uint64_t stored = 0;
  {
    auto counted = count();
    if (!counted) return tl::unexpected(counted.error());
    stored = *counted;
  }
  if (stored <= max_events) return std::uint64_t{0};
  Query q(*db_, drop_oldest_, "drop the oldest rejected events");
  auto dropped = q.bind(static_cast<std::int64_t>(stored - max_events)).run();
  if (!dropped) return tl::unexpected(dropped.error());
  return static_cast<std::uint64_t>(*dropped);
}

Expected<std::vector<RejectedEvent>> RejectedEventStore::select(const RejectedEventSelection& which) {
  std::vector<RejectedEvent> events;
  Query q(*db_, select_, "read rejected events");
  q.bind(which.after_id).bind(which.since.value_or(std::numeric_limits<std::int64_t>::min()));
  q.bind(which.source).bind(which.source);
  q.bind(which.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(which.limit));
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    events.push_back(RejectedEvent{q.integer(0), NewRejectedEvent{q.text(1), q.text(2), q.text(3), q.text(5)}, q.integer(4)});
  }
  return events;
}

Expected<std::size_t> RejectedEventStore::remove(RecordId id) {
  Query q(*db_, delete_, "delete rejected event");
  return q.bind(id).run();
}

Expected<std::size_t> RejectedEventStore::update_reason(RecordId id, std::string_view reason) {
  Query q(*db_, update_reason_, "update rejected event");
  return q.bind(reason).bind(id).run();
}

Expected<std::uint64_t> RejectedEventStore::count() {
  Query q(*db_, count_, "count rejected events");
  auto row = q.step();
  if (!row) return tl::unexpected(row.error());
  return static_cast<std::uint64_t>(q.integer(0));
}

}  // namespace omt::queue::sqlite
