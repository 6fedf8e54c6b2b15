// Rate limits for pushes: a token bucket per API key (Ometria allows 8 requests/s per account by default), capped
// by a sliding window so that no second ever sees more than the rate, whatever the burst: a bucket alone lets
// the burst and then a second's refill through in one second (8 + 8 at the defaults after a quiet spell).
// Time is passed in (steady clock points), so these never read a clock themselves. Not thread-safe: one
// delivery loop owns them.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace omt::delivery {

using SteadyTime = std::chrono::steady_clock::time_point;

struct RateLimit {
  double requests_per_second = 8.0;  // <= 0 means unlimited
  double burst = 8.0;                // bucket size: requests that may go at once after a quiet spell (>= 1)
};

// The window keeps one time point per request of the last second, so it is kept only up to this rate; above
// it (far beyond Ometria's 8/s, tests and private endpoints) the bucket alone limits.
inline constexpr double kWindowedRateLimit = 1000.0;

class TokenBucket {
 public:
  // Starts full.
  TokenBucket(RateLimit limit, SteadyTime now);

  // Takes one token if there is one and the last second has not yet seen floor(rate) requests (at least 1;
  // so 2.5/s gives 2 a second); false otherwise (nothing taken).
  bool try_acquire(SteadyTime now);
  // How long until try_acquire would succeed (0 if it would now).
  std::chrono::nanoseconds wait_time(SteadyTime now) const;
  double tokens(SteadyTime now) const;
  const RateLimit& limit() const { return limit_; }
  // Counts the second before now as fully used (no token left, the window full at now), so the next request
  // waits a second: for a key whose earlier requests were made elsewhere and are not known here.
  void spend_second(SteadyTime now);

 private:
  double refilled(SteadyTime now) const;
  std::chrono::nanoseconds window_wait(SteadyTime now) const;

  RateLimit limit_;
  double tokens_;
  SteadyTime updated_;
  std::size_t window_capacity_ = 0;  // requests allowed in any one second; 0: no window
  std::vector<SteadyTime> recent_;   // ring of the last window_capacity_ request times
  std::size_t oldest_ = 0;           // index of the oldest time in recent_ once it is full
};

// One bucket per API key, all with the same limit unless set_limit overrides one key.
class KeyedRateLimiter {
 public:
  explicit KeyedRateLimiter(RateLimit default_limit) : default_limit_(default_limit) {}

  bool try_acquire(std::string_view api_key, SteadyTime now);
  std::chrono::nanoseconds wait_time(std::string_view api_key, SteadyTime now);
  void set_limit(std::string_view api_key, RateLimit limit, SteadyTime now);
  // A key taken over from another instance sharing the queue: its pushes there in the last second are unknown,
  // so this one waits a second before its first, and the second around a handover never sees twice the rate.
  void taken_over(std::string_view api_key, SteadyTime now) { bucket(api_key, now).spend_second(now); }
  std::size_t keys() const { return buckets_.size(); }

 private:
  TokenBucket& bucket(std::string_view api_key, SteadyTime now);

  RateLimit default_limit_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace omt::delivery
