// Rate limits for pushes: a token bucket per API key (Ometria allows 8 requests/s per account by default).
// Time is passed in (steady clock points), so these never read a clock themselves. Not thread-safe: one
// delivery loop owns them.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace omt::delivery {

using SteadyTime = std::chrono::steady_clock::time_point;

struct RateLimit {
  double requests_per_second = 8.0;  // <= 0 means unlimited
  double burst = 8.0;                // bucket size: requests that may go at once after a quiet spell (>= 1)
};

class TokenBucket {
 public:
  // Starts full.
  TokenBucket(RateLimit limit, SteadyTime now);

  // Takes one token if there is one; false otherwise (nothing taken).
  bool try_acquire(SteadyTime now);
  // How long until try_acquire would succeed (0 if it would now).
  std::chrono::nanoseconds wait_time(SteadyTime now) const;
  double tokens(SteadyTime now) const;
  const RateLimit& limit() const { return limit_; }

 private:
  double refilled(SteadyTime now) const;

  RateLimit limit_;
  double tokens_;
  SteadyTime updated_;
};

// One bucket per API key, all with the same limit unless set_limit overrides one key.
class KeyedRateLimiter {
 public:
  explicit KeyedRateLimiter(RateLimit default_limit) : default_limit_(default_limit) {}

  bool try_acquire(std::string_view api_key, SteadyTime now);
  std::chrono::nanoseconds wait_time(std::string_view api_key, SteadyTime now);
  void set_limit(std::string_view api_key, RateLimit limit, SteadyTime now);
  std::size_t keys() const { return buckets_.size(); }

 private:
  TokenBucket& bucket(std::string_view api_key, SteadyTime now);

  RateLimit default_limit_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace omt::delivery
