// The request log (seed 004's "Export Requests Log"): one entry for every push to Ometria, live or backfill,
// whatever became of it (delivered, refused, timed out), kept durably beside the queue so that the operator command
// `ometria-transformer requests` (a separate process) can list it. Bounded: past its bound the oldest entries go.
// Writing is fire-and-forget for delivery: it never waits for a log write, and a failed one never changes what
// became of the push. API keys are kept only as their fingerprint. Implemented by the SQLite and PostgreSQL queues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue {

struct RequestLogEntry {
  UnixMillis at = 0;            // when the push ended (its answer came, or it failed)
  std::string source;           // the names of the sources whose key it was ("web", "web, app"); empty: none (an old key)
  std::string key_fingerprint;  // obs::key_fingerprint of the push's key, never the key
  RecordType type = RecordType::contact;
  Lane lane = Lane::live;
  std::uint32_t records = 0;    // in the push
  int status = 0;               // Ometria's HTTP status; 0: no answer (failure says why)
  std::string failure;          // with status 0: the network failure's kind ("timeout", "connect", ...)
  // From Ometria's receipt, when its answer carried them ({"request_id":..., "accepted":N, "rejected":M}).
  std::optional<std::string> request_id;
  std::optional<std::int64_t> accepted;
  std::optional<std::int64_t> rejected;
  std::int64_t duration_ms = 0;  // from sending the push to its end
  bool operator==(const RequestLogEntry&) const = default;
};

struct LoggedRequest {
  std::int64_t id = 0;  // grows with every entry: a later push has a higher id
  RequestLogEntry entry;
};

// Which entries a read lists, in which order, page by page: up to limit (0: no limit) after the entry after_id (the
// last of the previous page, in the listing's order; 0: from the start).
struct RequestLogSelection {
  bool newest_first = true;
  std::int64_t after_id = 0;
  std::optional<UnixMillis> since;  // only entries at or after this time
  std::string source;               // empty: every source; else the entries whose sources include this name
  std::optional<int> status_from;   // only statuses in [status_from, status_to] (0 is "no answer")
  std::optional<int> status_to;
  std::size_t limit = 0;
};

class RequestLog {
 public:
  // Called once per log_pushes, with nullptr once the entries are stored or with why they were not. It runs on a
  // queue thread (or at once on the caller's, when the entries are refused before being queued): be quick, and do
  // not call back into the queue from it.
  using LogDone = std::function<void(const Error*)>;

  virtual ~RequestLog() = default;
  // Stores the entries soon, never waiting for the database: entries logged close together are written together.
  // Past the store's bound the oldest entries are dropped (that is the bound, not a failure).
  virtual void log_pushes(std::vector<RequestLogEntry> entries, LogDone done) = 0;
  // Answers on the queue's thread, as queue::Queue's operations do (queue.hpp).
  virtual void logged_requests(const RequestLogSelection& which, Done<std::vector<LoggedRequest>> done) = 0;
  // The waiting form (never from a queue callback).
  Expected<std::vector<LoggedRequest>> logged_requests(const RequestLogSelection& which) {
    return wait_for<std::vector<LoggedRequest>>(
        "logged_requests", [&](Done<std::vector<LoggedRequest>> done) { logged_requests(which, std::move(done)); });
  }
};

}  // namespace omt::queue
