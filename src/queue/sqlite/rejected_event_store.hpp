// The rejected_events table: well-formed events ingest could not transform, each with its source, route, reason
// and time, kept until replayed and bounded by a count (the oldest dropped first). Runs on the connection's one
// thread, inside the caller's transaction.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue::sqlite {

class RejectedEventStore {
 public:
  // Prepares its statements; the table must exist (prepare_schema).
  static Expected<RejectedEventStore> prepare(Connection& db);
  RejectedEventStore() = default;  // no statements: only for assigning a prepared one to

  Expected<void> insert(const NewRejectedEvent& event, UnixMillis at);
  // Drops the oldest events until at most max_events are stored. Returns how many were dropped.
  Expected<std::uint64_t> trim(std::uint64_t max_events);
  Expected<std::vector<RejectedEvent>> select(const RejectedEventSelection& which);
  // How many rows changed (0 or 1).
  Expected<std::size_t> remove(RecordId id);
  Expected<std::size_t> update_reason(RecordId id, std::string_view reason);
  Expected<std::uint64_t> count();

 private:
  explicit RejectedEventStore(Connection& db) : db_(&db) {}
  Connection* db_ = nullptr;
  Statement insert_, id_span_, count_, drop_oldest_, select_, delete_, update_reason_;
};

}  // namespace omt::queue::sqlite
