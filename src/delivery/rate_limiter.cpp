#include "omt/delivery/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace omt::delivery {
namespace {

RateLimit sanitized(RateLimit limit) {
  if (!std::isfinite(limit.requests_per_second)) limit.requests_per_second = 0;
  if (!std::isfinite(limit.burst) || limit.burst < 1.0) limit.burst = 1.0;
  return limit;
}

}  // namespace

TokenBucket::TokenBucket(RateLimit limit, SteadyTime now)
    : limit_(sanitized(limit)), tokens_(limit_.burst), updated_(now) {
  if (limit_.requests_per_second > 0 && limit_.requests_per_second <= kWindowedRateLimit)
    window_capacity_ = std::max<std::size_t>(1, static_cast<std::size_t>(limit_.requests_per_second));
}

std::chrono::nanoseconds TokenBucket::window_wait(SteadyTime now) const {
  if (window_capacity_ == 0 || recent_.size() < window_capacity_) return std::chrono::nanoseconds{0};
  // The oldest of the last window_capacity_ requests must be a full second old before another may go.
  const auto free_at = recent_[oldest_] + std::chrono::seconds{1};
  return free_at > now ? std::chrono::duration_cast<std::chrono::nanoseconds>(free_at - now)
                       : std::chrono::nanoseconds{0};
}

double TokenBucket::refilled(SteadyTime now) const {
  if (limit_.requests_per_second <= 0) return limit_.burst;
  // A time before the last update (a caller's clocks disagree) refills nothing rather than draining.
  const auto elapsed = std::max(now - updated_, SteadyTime::duration::zero());
  const double seconds = std::chrono::duration<double>(elapsed).count();
  return std::min(limit_.burst, tokens_ + seconds * limit_.requests_per_second);
}

bool TokenBucket::try_acquire(SteadyTime now) {
  if (limit_.requests_per_second <= 0) return true;
  tokens_ = refilled(now);
  updated_ = std::max(updated_, now);
  if (tokens_ < 1.0 || window_wait(now) > std::chrono::nanoseconds{0}) return false;
  tokens_ -= 1.0;
  if (window_capacity_ == 0) return true;
  if (recent_.size() < window_capacity_) {
    recent_.push_back(now);
  } else {
    recent_[oldest_] = now;
    oldest_ = (oldest_ + 1) % window_capacity_;
  }
  return true;
}

std::chrono::nanoseconds TokenBucket::wait_time(SteadyTime now) const {
  if (limit_.requests_per_second <= 0) return std::chrono::nanoseconds{0};
  const double missing = 1.0 - refilled(now);
  const std::chrono::nanoseconds bucket_wait{
      missing <= 0 ? 0 : static_cast<std::int64_t>(std::ceil(missing / limit_.requests_per_second * 1e9))};
  return std::max(bucket_wait, window_wait(now));
}

double TokenBucket::tokens(SteadyTime now) const { return refilled(now); }

void TokenBucket::spend_second(SteadyTime now) {
  tokens_ = 0;
  updated_ = std::max(updated_, now);
  if (window_capacity_ == 0) return;
  recent_.assign(window_capacity_, now);
  oldest_ = 0;
}

TokenBucket& KeyedRateLimiter::bucket(std::string_view api_key, SteadyTime now) {
  auto it = buckets_.find(std::string(api_key));
  if (it == buckets_.end()) it = buckets_.emplace(std::string(api_key), TokenBucket(default_limit_, now)).first;
  return it->second;
}

bool KeyedRateLimiter::try_acquire(std::string_view api_key, SteadyTime now) {
  return bucket(api_key, now).try_acquire(now);
}

std::chrono::nanoseconds KeyedRateLimiter::wait_time(std::string_view api_key, SteadyTime now) {
  return bucket(api_key, now).wait_time(now);
}

void KeyedRateLimiter::set_limit(std::string_view api_key, RateLimit limit, SteadyTime now) {
  buckets_.insert_or_assign(std::string(api_key), TokenBucket(limit, now));
}

}  // namespace omt::delivery
