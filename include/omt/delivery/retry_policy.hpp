// The retry decision for one push to Ometria: a pure function of what came back (a PushOutcome: HTTP status or a
// network failure, Retry-After, X-QueueSize-Remaining / X-QueueSize-Limit), the attempt number, the configuration, the
// current wall-clock time (for HTTP-date Retry-After) and one uniform random sample (for full jitter).
// Promise: the same inputs always give the same Decision; it never throws and never reads a clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "omt/delivery/push.hpp"

namespace omt::delivery {

struct RetryConfig {
  std::chrono::milliseconds base_delay{500};       // backoff ceiling for the first retry
  std::chrono::milliseconds max_delay{60'000};     // cap of the exponential backoff ceiling
  std::chrono::milliseconds max_retry_after{std::chrono::minutes(15)};  // cap on a server's Retry-After
  std::chrono::milliseconds hold_probe_interval{std::chrono::minutes(3)};  // 401/403: probe the key again after
  // Slow down once X-QueueSize-Remaining falls below this fraction of X-QueueSize-Limit; the pause grows
  // linearly to queue_pressure_max_delay as the remaining room reaches 0.
  double queue_slowdown_fraction = 0.2;
  std::chrono::milliseconds queue_pressure_max_delay{30'000};
  std::int64_t default_queue_size_limit = 50'000;  // Ometria's documented backlog limit, when no limit header
  // 0 = retry forever (records are never given up on); otherwise dead-letter once this many attempts failed.
  std::uint32_t max_attempts = 0;
};

struct Decision {
  enum class Action : std::uint8_t {
    delivered,    // 2xx: remove the records; delay = pause before this key's next push (queue pressure)
    retry,        // try the same records again after delay
    dead_letter,  // never retry: move the records to the dead-letter store with reason
    hold_key,     // the key is refused (401/403): hold all its records; probe again after delay
  };
  Action action = Action::delivered;
  std::chrono::milliseconds delay{0};
  std::string reason;  // empty for a plain delivery; never holds a response body or an API key
};

std::string_view to_string(Decision::Action action);

// attempt: 1 for the first push of these records, 2 for the first retry, ...
// uniform01: a random sample in [0, 1) from the caller's random source (full jitter draws the backoff from it).
// now: the wall-clock time, used only to turn an HTTP-date Retry-After into a delay.
Decision decide(const PushOutcome& outcome, std::uint32_t attempt, const RetryConfig& config, double uniform01,
                std::chrono::system_clock::time_point now);

// The backoff ceiling before the jitter: min(max_delay, base_delay * 2^(attempt-1)).
std::chrono::milliseconds backoff_ceiling(std::uint32_t attempt, const RetryConfig& config);

// Retry-After as a delay from now: delta-seconds ("120") or an HTTP-date (IMF-fixdate, RFC 850 or asctime).
// nullopt when it is neither; a date in the past gives 0.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// The pause that Ometria's backlog headers call for (0 when there is room or the headers are absent/invalid).
std::chrono::milliseconds queue_pressure_delay(const PushOutcome& outcome, const RetryConfig& config);

}  // namespace omt::delivery
