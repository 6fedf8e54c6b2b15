// What Ometria rejected after a 2xx (GET /v2/push/_errors), kept durably beside the queue so that the operator
// commands (a separate process) can list it: one row per distinct entry and key, bounded (the least recently
// listed go first). Each poll lists the account's last errors again, so storing a poll's entries is idempotent:
// an entry already kept counts as new only by the occurrences it gained. Implemented by the SQLite queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "omt/delivery/ometria_errors.hpp"
#include "omt/error.hpp"

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
  // only the store's bound of most recently seen rows stay. Returns the new entries, each with its new occurrences.
  virtual Expected<std::vector<delivery::SeenError>> record_ometria_errors(const std::string& api_key,
                                                                          const std::vector<delivery::SeenError>& seen,
                                                                          std::int64_t now) = 0;
  // The kept errors, newest first (the latest new first), at most limit (0: all).
  virtual Expected<std::vector<StoredOmetriaError>> ometria_errors(std::size_t limit) = 0;
  virtual Expected<std::vector<OmetriaErrorsOfKey>> ometria_errors_by_key() = 0;
};

}  // namespace omt::queue
