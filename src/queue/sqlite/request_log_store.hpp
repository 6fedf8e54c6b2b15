// The request_log table (schema version 6): one row per push to Ometria and what became of it, bounded by a count
// (the oldest dropped first). Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <cstdint>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::queue::sqlite {

class RequestLogStore {
 public:
  // Prepares its statements; the table must exist (prepare_schema).
  static Expected<RequestLogStore> prepare(Connection& db);
  RequestLogStore() = default;  // no statements: only for assigning a prepared one to

  Expected<void> insert(const RequestLogEntry& entry);
  // Drops the oldest entries so that at most `keep` stay. Returns how many were dropped.
  Expected<std::uint64_t> trim(std::uint64_t keep);
  Expected<std::vector<LoggedRequest>> select(const RequestLogSelection& which);

 private:
  explicit RequestLogStore(Connection& db) : db_(&db) {}
  Connection* db_ = nullptr;
  Statement insert_, newest_id_, drop_up_to_, newest_first_, oldest_first_;
};

}  // namespace omt::queue::sqlite
