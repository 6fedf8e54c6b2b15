// What Ometria rejected after a 2xx (GET /v2/push/_errors), kept durably beside the queue so that the operator
// commands (a separate process) can list it: one row per distinct entry and key, bounded (the least recently
// listed go first). Each poll lists the account's last errors again, so storing a poll's entries is idempotent:
// an entry already kept counts as new only by the occurrences it gained. Implemented by the SQLite and PostgreSQL
// queues, on their own threads: the operations answer through a callback as queue::Queue's do (queue.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "omt/delivery/ometria_errors.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::queue {

struct StoredOmetriaError {
  std::int64_t id = 0;
  std::string api_key;
  ometria::OmetriaError error;
  std::uint32_t occurrences = 0;       // the most times one answer listed it
  std::int64_t first_seen_at = 0;      // Unix ms: the poll that first listed it
  std::int64_t last_seen_at = 0;       // the latest poll that listed it
  std::int64_t latest_new_at = 0;      // the latest poll that found it new (first seen, or more occurrences)
  std::optional<delivery::ErrorMatch> match;  // our push (and records) it names, once found
};

// Per key: how many errors are kept (occurrences summed) and when the latest new one was seen.
struct OmetriaErrorsOfKey {
  std::string api_key;
  std::uint64_t errors = 0;
  std::int64_t latest_new_at = 0;
};

class OmetriaErrorLog {
 public:
  virtual ~OmetriaErrorLog() = default;
  // Stores what one poll of api_key listed, at `now` (Unix ms): an entry not kept is added; a kept one is marked
  // seen, its occurrences raised to the new count when higher, and its match filled in when it had none. Then
  // only the store's bound of most recently seen rows stay. Answers the new entries, each with its new occurrences.
  virtual void record_ometria_errors(const std::string& api_key, const std::vector<delivery::SeenError>& seen,
                                     std::int64_t now, Done<std::vector<delivery::SeenError>> done) = 0;
  // The kept errors, newest first (the latest new first), at most limit (0: all).
  virtual void ometria_errors(std::size_t limit, Done<std::vector<StoredOmetriaError>> done) = 0;
  virtual void ometria_errors_by_key(Done<std::vector<OmetriaErrorsOfKey>> done) = 0;

  // The waiting forms (never from a queue callback).
  Expected<std::vector<delivery::SeenError>> record_ometria_errors(const std::string& api_key,
                                                                  const std::vector<delivery::SeenError>& seen,
                                                                  std::int64_t now) {
    return wait_for<std::vector<delivery::SeenError>>("record_ometria_errors", [&](Done<std::vector<delivery::SeenError>> done) {
      record_ometria_errors(api_key, seen, now, std::move(done));
    });
  }
  Expected<std::vector<StoredOmetriaError>> ometria_errors(std::size_t limit) {
    return wait_for<std::vector<StoredOmetriaError>>(
        "ometria_errors", [&](Done<std::vector<StoredOmetriaError>> done) { ometria_errors(limit, std::move(done)); });
  }
  Expected<std::vector<OmetriaErrorsOfKey>> ometria_errors_by_key() {
    return wait_for<std::vector<OmetriaErrorsOfKey>>(
        "ometria_errors_by_key", [&](Done<std::vector<OmetriaErrorsOfKey>> done) { ometria_errors_by_key(std::move(done)); });
  }
};

}  // namespace omt::queue
