#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "omt/delivery/rate_limiter.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::KeyedRateLimiter;
using omt::delivery::RateLimit;
using omt::delivery::SteadyTime;
using omt::delivery::TokenBucket;

const SteadyTime kStart{std::chrono::seconds{1000}};

TEST(TokenBucket, StartsFullAndAllowsTheBurst) {
  TokenBucket bucket(RateLimit{8, 8}, kStart);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(bucket.try_acquire(kStart)) << i;
  EXPECT_FALSE(bucket.try_acquire(kStart));
  // The bucket would have a token after 125 ms, but the second already holds its 8 requests.
  EXPECT_EQ(bucket.wait_time(kStart), 1s);
}

TEST(TokenBucket, RefillsAtTheRate) {
  TokenBucket bucket(RateLimit{8, 1}, kStart);
  ASSERT_TRUE(bucket.try_acquire(kStart));
  EXPECT_FALSE(bucket.try_acquire(kStart + 124ms));
  EXPECT_TRUE(bucket.try_acquire(kStart + 125ms));
  EXPECT_FALSE(bucket.try_acquire(kStart + 125ms));
  EXPECT_EQ(bucket.wait_time(kStart + 200ms), 50ms);
  // Polled every millisecond for 10 more seconds, the empty bucket lets rate * time requests through.
  int passed = 0;
  for (auto t = kStart + 126ms; t <= kStart + 10'125ms; t += 1ms) passed += bucket.try_acquire(t) ? 1 : 0;
  EXPECT_NEAR(passed, 80, 1);  // +-1: the refill is summed in floating point at 1 ms steps
}

// Ometria counts requests per second per account: the bucket's burst and its refill together must never put
// more than the rate into one second, after a quiet spell or in a steady stream, whatever the burst.
TEST(TokenBucket, NoSecondSeesMoreThanTheRateWhateverTheBurst) {
  for (const RateLimit limit : {RateLimit{8, 8}, RateLimit{8, 1}, RateLimit{8, 100}, RateLimit{2.5, 4}}) {
    TokenBucket bucket(limit, kStart);
    std::vector<SteadyTime> granted;
    // Polled every millisecond for 20 s, with a quiet spell of 3 s in the middle that refills the bucket.
    for (auto t = kStart; t <= kStart + 20s; t += 1ms) {
      if (t > kStart + 8s && t < kStart + 11s) continue;
      if (bucket.try_acquire(t)) granted.push_back(t);
    }
    const auto per_second = static_cast<std::size_t>(limit.requests_per_second);
    std::size_t most = 0;
    for (std::size_t first = 0; first < granted.size(); ++first) {
      std::size_t in_window = 0;
      for (std::size_t i = first; i < granted.size() && granted[i] < granted[first] + 1s; ++i) ++in_window;
      most = std::max(most, in_window);
    }
    EXPECT_EQ(most, per_second) << "rate " << limit.requests_per_second << ", burst " << limit.burst;
    // The window costs no throughput at whole rates: 17 s of polling gets 17 seconds' worth (give or take one);
    // a fractional rate above 1 gets its whole part a second.
    EXPECT_GE(granted.size() + per_second, 17 * per_second)
        << "rate " << limit.requests_per_second << ", burst " << limit.burst;
  }
}

TEST(TokenBucket, AboveTheWindowedRateTheBucketAloneLimits) {
  TokenBucket bucket(RateLimit{omt::delivery::kWindowedRateLimit * 2, 3000}, kStart);
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(bucket.try_acquire(kStart)) << i;  // more than the rate at once
  EXPECT_FALSE(bucket.try_acquire(kStart));
  EXPECT_EQ(bucket.wait_time(kStart), 500us);  // the bucket's refill, not a second's window
}

TEST(TokenBucket, ARateBelowOneStillLetsOneRequestThrough) {
  TokenBucket bucket(RateLimit{0.5, 1}, kStart);
  EXPECT_TRUE(bucket.try_acquire(kStart));
  EXPECT_FALSE(bucket.try_acquire(kStart + 1500ms));
  EXPECT_EQ(bucket.wait_time(kStart + 1500ms), 500ms);
  EXPECT_TRUE(bucket.try_acquire(kStart + 2s));
}

TEST(TokenBucket, NeverHoldsMoreThanTheBurst) {
  TokenBucket bucket(RateLimit{8, 3}, kStart);
  const auto later = kStart + 1h;
  EXPECT_DOUBLE_EQ(bucket.tokens(later), 3.0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.try_acquire(later));
  EXPECT_FALSE(bucket.try_acquire(later));
}

TEST(TokenBucket, TimeGoingBackwardsNeitherRefillsNorDrains) {
  TokenBucket bucket(RateLimit{1, 1}, kStart);
  EXPECT_TRUE(bucket.try_acquire(kStart));
  EXPECT_FALSE(bucket.try_acquire(kStart - 10s));
  EXPECT_TRUE(bucket.try_acquire(kStart + 1s));
}

TEST(TokenBucket, ZeroRateIsUnlimitedAndTinyBurstIsOne) {
  TokenBucket unlimited(RateLimit{0, 1}, kStart);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(unlimited.try_acquire(kStart));
  EXPECT_EQ(unlimited.wait_time(kStart), 0ns);
  TokenBucket one(RateLimit{2, 0}, kStart);
  EXPECT_TRUE(one.try_acquire(kStart));
  EXPECT_FALSE(one.try_acquire(kStart));
  EXPECT_EQ(one.wait_time(kStart), 500ms);
}

TEST(KeyedRateLimiter, EachKeyHasItsOwnBucket) {
  KeyedRateLimiter limiter(RateLimit{8, 2});
  EXPECT_TRUE(limiter.try_acquire("key-a", kStart));
  EXPECT_TRUE(limiter.try_acquire("key-a", kStart));
  EXPECT_FALSE(limiter.try_acquire("key-a", kStart));
  // An exhausted key does not slow another.
  EXPECT_TRUE(limiter.try_acquire("key-b", kStart));
  EXPECT_TRUE(limiter.try_acquire("key-b", kStart));
  EXPECT_EQ(limiter.wait_time("key-a", kStart), 125ms);
  EXPECT_EQ(limiter.keys(), 2u);
}

TEST(KeyedRateLimiter, PerKeyOverride) {
  KeyedRateLimiter limiter(RateLimit{8, 1});
  limiter.set_limit("fast", RateLimit{100, 10}, kStart);
  int fast = 0, slow = 0;
  for (int i = 0; i < 20; ++i) {
    fast += limiter.try_acquire("fast", kStart) ? 1 : 0;
    slow += limiter.try_acquire("slow", kStart) ? 1 : 0;
  }
  EXPECT_EQ(fast, 10);
  EXPECT_EQ(slow, 1);
}

// A key taken over from another instance: what that instance pushed in the last second is unknown here, so the
// new owner's first push waits a full second, and any second around the handover holds at most the rate: the
// old owner's pushes all went before the handover, the new owner's start a second after it.
TEST(KeyedRateLimiter, AKeyTakenOverWaitsASecondBeforeItsFirstPush) {
  for (const RateLimit limit : {RateLimit{8, 8}, RateLimit{8, 1}, RateLimit{2.5, 10}, RateLimit{0.5, 1}}) {
    KeyedRateLimiter limiter(limit);
    const auto taken = kStart + 5s;
    limiter.taken_over("key", taken);
    EXPECT_FALSE(limiter.try_acquire("key", taken)) << limit.requests_per_second;
    EXPECT_FALSE(limiter.try_acquire("key", taken + 999ms)) << limit.requests_per_second;
    EXPECT_GE(limiter.wait_time("key", taken), 1s) << limit.requests_per_second;
    // Then the key runs at its rate again: polled every ms for 10 s, never more than floor(rate) (at least 1)
    // in any second, and the rate over the whole time.
    std::vector<SteadyTime> passed;
    for (auto t = taken; t < taken + 11s; t += 1ms)
      if (limiter.try_acquire("key", t)) passed.push_back(t);
    ASSERT_FALSE(passed.empty());
    EXPECT_GE(passed.front(), taken + 1s) << limit.requests_per_second;
    const auto per_second = std::max<std::size_t>(1, static_cast<std::size_t>(limit.requests_per_second));
    for (std::size_t i = per_second; i < passed.size(); ++i)
      EXPECT_GE(passed[i] - passed[i - per_second], 1s) << limit.requests_per_second << " at " << i;
  }
  // Another key is not slowed.
  KeyedRateLimiter limiter(RateLimit{8, 8});
  limiter.taken_over("taken", kStart);
  EXPECT_TRUE(limiter.try_acquire("other", kStart));
}

// A key taken over that this instance already pushed before (it lost the key and won it back) waits as well.
TEST(KeyedRateLimiter, TakingOverAKeyAlreadyKnownSpendsItsSecondToo) {
  KeyedRateLimiter limiter(RateLimit{8, 8});
  ASSERT_TRUE(limiter.try_acquire("key", kStart));
  limiter.taken_over("key", kStart + 10s);
  EXPECT_FALSE(limiter.try_acquire("key", kStart + 10s));
  EXPECT_EQ(limiter.wait_time("key", kStart + 10s), 1s);
  EXPECT_TRUE(limiter.try_acquire("key", kStart + 11s));
}

}  // namespace
