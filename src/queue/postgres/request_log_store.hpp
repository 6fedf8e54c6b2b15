// The PostgreSQL queue's request_log table (schema version 2), as the SQLite queue's: one row per push to Ometria
// and what became of it, bounded by a count (the oldest dropped first), and the entries waiting in memory to be
// written: logging never waits for the database, and entries logged close together are written by one task.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::queue::postgres {

// Runs on the connection's one thread, inside the caller's transaction.
Expected<void> insert_request_log(Connection& db, const std::vector<RequestLogEntry>& entries);
// Drops the oldest entries so that at most `keep` stay. Returns how many were dropped.
Expected<std::uint64_t> trim_request_log(Connection& db, std::uint64_t keep);
Expected<std::vector<LoggedRequest>> select_request_log(Connection& db, const RequestLogSelection& which);

// Entries logged and not yet taken by a write; used from any thread.
class PendingRequestLog {
 public:
  struct Batch {
    std::vector<RequestLogEntry> entries;
    std::vector<RequestLog::LogDone> waiting;
  };
  enum class Added { needs_write, joined, refused };
  explicit PendingRequestLog(std::size_t max_entries) : max_entries_(max_entries) {}
  // needs_write: nothing was waiting for a write, the caller queues one; joined: the queued write takes these too;
  // refused: over the bound (done is not kept: the caller answers it).
  Added add(std::vector<RequestLogEntry>& entries, RequestLog::LogDone& done);
  // Everything waiting; the next add needs a write again.
  Batch take();

 private:
  std::size_t max_entries_;
  std::mutex mutex_;
  Batch waiting_;
  bool write_queued_ = false;
};

}  // namespace omt::queue::postgres
