#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "omt/delivery/retry_policy.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::decide;
using omt::delivery::Decision;
using omt::delivery::NetworkError;
using omt::delivery::PushOutcome;
using omt::delivery::RetryConfig;
using Action = Decision::Action;

// 1994-11-06 08:49:37 UTC, the RFC's example date.
const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days{std::chrono::year{1994} / 11 / 6} + 8h + 49min + 37s;

RetryConfig config() {
  RetryConfig c;
  c.base_delay = 1000ms;
  c.max_delay = 16'000ms;
  c.max_retry_after = 600'000ms;
  c.hold_probe_interval = 180'000ms;
  return c;
}

PushOutcome with_headers(int status, std::optional<std::string> retry_after,
                         std::optional<std::string> remaining = {}, std::optional<std::string> limit = {}) {
  auto outcome = PushOutcome::http_status(status);
  outcome.answer.retry_after = std::move(retry_after);
  outcome.answer.queue_size_remaining = std::move(remaining);
  outcome.answer.queue_size_limit = std::move(limit);
  return outcome;
}

TEST(RetryPolicy, EverySuccessStatusIsDelivered) {
  for (int status = 200; status <= 299; ++status) {
    auto d = decide(PushOutcome::http_status(status), 1, config(), 0.5, kNow);
    EXPECT_EQ(d.action, Action::delivered) << status;
    EXPECT_EQ(d.delay, 0ms) << status;
    EXPECT_TRUE(d.reason.empty());
  }
}

TEST(RetryPolicy, UnauthorizedAndForbiddenHoldTheKeyAndProbeLater) {
  for (int status : {401, 403}) {
    auto d = decide(PushOutcome::http_status(status), 1, config(), 0.5, kNow);
    EXPECT_EQ(d.action, Action::hold_key) << status;
    EXPECT_EQ(d.delay, 180'000ms);
    EXPECT_NE(d.reason.find(std::to_string(status)), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("API key"), std::string::npos) << d.reason;
  }
  // Holding never turns into giving up, however many attempts were made.
  auto c = config();
  c.max_attempts = 3;
  EXPECT_EQ(decide(PushOutcome::http_status(401), 50, c, 0.5, kNow).action, Action::hold_key);
}

TEST(RetryPolicy, PermanentClientErrorsDeadLetterWithTheirReason) {
  auto bad = decide(PushOutcome::http_status(400), 1, config(), 0.5, kNow);
  EXPECT_EQ(bad.action, Action::dead_letter);
  EXPECT_NE(bad.reason.find("HTTP 400"), std::string::npos);
  auto big = decide(PushOutcome::http_status(413), 1, config(), 0.5, kNow);
  EXPECT_EQ(big.action, Action::dead_letter);
  EXPECT_NE(big.reason.find("HTTP 413"), std::string::npos);
  for (int status = 400; status <= 499; ++status) {
    if (status == 401 || status == 403 || status == 408 || status == 429) continue;
    auto d = decide(PushOutcome::http_status(status), 1, config(), 0.5, kNow);
    EXPECT_EQ(d.action, Action::dead_letter) << status;
    EXPECT_NE(d.reason.find("HTTP " + std::to_string(status)), std::string::npos) << d.reason;
  }
}

TEST(RetryPolicy, TransientAnswersAndNetworkFailuresAreRetried) {
  std::vector<PushOutcome> transient{PushOutcome::failure(NetworkError::reset), PushOutcome::failure(NetworkError::timeout),
                                     PushOutcome::http_status(408), PushOutcome::http_status(429)};
  for (int status = 500; status <= 599; ++status) transient.push_back(PushOutcome::http_status(status));
  for (const auto& outcome : transient) {
    auto d = decide(outcome, 1, config(), 0.5, kNow);
    EXPECT_EQ(d.action, Action::retry) << outcome.answer.status;
    EXPECT_EQ(d.delay, 500ms) << outcome.answer.status;  // half of the first ceiling (1 s)
    EXPECT_FALSE(d.reason.empty());
  }
  EXPECT_EQ(decide(PushOutcome::failure(NetworkError::timeout), 1, config(), 0, kNow).reason, "timeout");
  EXPECT_EQ(decide(PushOutcome::failure(NetworkError::reset), 1, config(), 0, kNow).reason, "network error");
  EXPECT_NE(decide(PushOutcome::http_status(503), 1, config(), 0, kNow).reason.find("503"), std::string::npos);
}

TEST(RetryPolicy, UnexpectedStatusesAreRetriedNotDropped) {
  for (int status : {0, 100, 199, 301, 302, 304, 399, 600, 999}) {
    auto d = decide(PushOutcome::http_status(status), 1, config(), 0.5, kNow);
    EXPECT_EQ(d.action, Action::retry) << status;
    EXPECT_NE(d.reason.find("unexpected"), std::string::npos) << d.reason;
  }
}

TEST(RetryPolicy, BackoffCeilingDoublesUpToTheCap) {
  auto c = config();
  EXPECT_EQ(omt::delivery::backoff_ceiling(1, c), 1000ms);
  EXPECT_EQ(omt::delivery::backoff_ceiling(2, c), 2000ms);
  EXPECT_EQ(omt::delivery::backoff_ceiling(3, c), 4000ms);
  EXPECT_EQ(omt::delivery::backoff_ceiling(5, c), 16'000ms);
  EXPECT_EQ(omt::delivery::backoff_ceiling(6, c), 16'000ms);
  EXPECT_EQ(omt::delivery::backoff_ceiling(4'000'000'000u, c), 16'000ms);  // no overflow
  EXPECT_EQ(omt::delivery::backoff_ceiling(0, c), 1000ms);
}

TEST(RetryPolicy, FullJitterSpansZeroToTheCeiling) {
  auto c = config();
  EXPECT_EQ(decide(PushOutcome::http_status(500), 3, c, 0.0, kNow).delay, 0ms);
  EXPECT_EQ(decide(PushOutcome::http_status(500), 3, c, 0.25, kNow).delay, 1000ms);
  EXPECT_EQ(decide(PushOutcome::http_status(500), 3, c, 0.999, kNow).delay, 3996ms);
  EXPECT_EQ(decide(PushOutcome::http_status(500), 30, c, 0.5, kNow).delay, 8000ms);
  // A broken random source cannot push the delay outside [0, ceiling].
  EXPECT_EQ(decide(PushOutcome::http_status(500), 3, c, 7.0, kNow).delay, 4000ms);
  EXPECT_EQ(decide(PushOutcome::http_status(500), 3, c, -1.0, kNow).delay, 0ms);
  EXPECT_EQ(decide(PushOutcome::http_status(500), 3, c, std::nan(""), kNow).delay, 0ms);
}

TEST(RetryPolicy, RetryAfterSecondsWinsWhenLonger) {
  auto d = decide(with_headers(429, "30"), 1, config(), 0.5, kNow);
  EXPECT_EQ(d.action, Action::retry);
  EXPECT_EQ(d.delay, 30'000ms);
  // The backoff wins when it is the longer of the two.
  EXPECT_EQ(decide(with_headers(503, "1"), 5, config(), 0.5, kNow).delay, 8000ms);
  // A zero Retry-After leaves the backoff.
  EXPECT_EQ(decide(with_headers(503, "0"), 1, config(), 0.5, kNow).delay, 500ms);
}

TEST(RetryPolicy, RetryAfterHttpDateInEveryFormat) {
  for (const char* date : {"Sun, 06 Nov 1994 08:50:37 GMT", "Sunday, 06-Nov-94 08:50:37 GMT",
                           "Sun Nov  6 08:50:37 1994"}) {
    auto d = decide(with_headers(429, date), 1, config(), 0.0, kNow);
    EXPECT_EQ(d.action, Action::retry) << date;
    EXPECT_EQ(d.delay, 60'000ms) << date;
  }
  // A date in the past means "now": the backoff decides.
  EXPECT_EQ(decide(with_headers(429, "Sun, 06 Nov 1994 08:00:00 GMT"), 1, config(), 0.5, kNow).delay, 500ms);
}

TEST(RetryPolicy, RetryAfterIsCapped) {
  EXPECT_EQ(decide(with_headers(429, "86400"), 1, config(), 0.5, kNow).delay, 600'000ms);
  EXPECT_EQ(decide(with_headers(429, "99999999999999999999999"), 1, config(), 0.5, kNow).delay, 600'000ms);
  EXPECT_EQ(decide(with_headers(429, "Fri, 31 Dec 9999 23:59:59 GMT"), 1, config(), 0.5, kNow).delay, 600'000ms);
}

TEST(RetryPolicy, MalformedRetryAfterIsIgnored) {
  for (const char* value : {"", "soon", "-5", "1.5", "3 0", "Sun, 31 Feb 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994 08:49 GMT", "a b c d e f g h"}) {
    EXPECT_FALSE(omt::delivery::parse_retry_after(value, kNow).has_value()) << value;
    EXPECT_EQ(decide(with_headers(429, value), 1, config(), 0.5, kNow).delay, 500ms) << value;
  }
  EXPECT_EQ(omt::delivery::parse_retry_after(" 12 ", kNow), 12'000ms);
}

TEST(RetryPolicy, QueuePressureSlowsDeliveriesAndRetries) {
  auto c = config();
  c.queue_slowdown_fraction = 0.2;
  c.queue_pressure_max_delay = 30'000ms;
  // Plenty of room: no pause.
  EXPECT_EQ(decide(with_headers(202, {}, "40000", "50000"), 1, c, 0.5, kNow).delay, 0ms);
  // At the threshold (20 % of the limit): still no pause; half-way below it: half the pause; none left: all.
  EXPECT_EQ(decide(with_headers(202, {}, "10000", "50000"), 1, c, 0.5, kNow).delay, 0ms);
  auto half = decide(with_headers(202, {}, "5000", "50000"), 1, c, 0.5, kNow);
  EXPECT_EQ(half.action, Action::delivered);
  EXPECT_EQ(half.delay, 15'000ms);
  EXPECT_EQ(decide(with_headers(202, {}, "0", "50000"), 1, c, 0.5, kNow).delay, 30'000ms);
  // The pause grows as the remaining room falls.
  auto prev = 0ms;
  for (int remaining = 10000; remaining >= 0; remaining -= 1000) {
    auto d = decide(with_headers(202, {}, std::to_string(remaining), "50000"), 1, c, 0.5, kNow).delay;
    EXPECT_GE(d, prev) << remaining;
    prev = d;
  }
  // A 429 with an empty backlog waits at least the pressure pause.
  auto full = decide(with_headers(429, {}, "0", "50000"), 1, c, 0.5, kNow);
  EXPECT_EQ(full.action, Action::retry);
  EXPECT_EQ(full.delay, 30'000ms);
  // Without a limit header, Ometria's documented 50,000 is assumed.
  EXPECT_EQ(decide(with_headers(202, {}, "5000"), 1, c, 0.5, kNow).delay, 15'000ms);
  // Garbage headers are ignored.
  EXPECT_EQ(decide(with_headers(202, {}, "lots", "50000"), 1, c, 0.5, kNow).delay, 0ms);
  EXPECT_EQ(decide(with_headers(202, {}, "5000", "-1"), 1, c, 0.5, kNow).delay, 15'000ms);
  // Remaining above the limit is plenty of room.
  EXPECT_EQ(decide(with_headers(202, {}, "90000", "50000"), 1, c, 0.5, kNow).delay, 0ms);
}

TEST(RetryPolicy, GivesUpOnlyWhenConfiguredTo) {
  auto c = config();
  EXPECT_EQ(decide(PushOutcome::http_status(500), 1000, c, 0.5, kNow).action, Action::retry);
  c.max_attempts = 5;
  EXPECT_EQ(decide(PushOutcome::http_status(500), 4, c, 0.5, kNow).action, Action::retry);
  auto d = decide(PushOutcome::http_status(500), 5, c, 0.5, kNow);
  EXPECT_EQ(d.action, Action::dead_letter);
  EXPECT_NE(d.reason.find("gave up after 5 attempts"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("HTTP 500"), std::string::npos) << d.reason;
  EXPECT_EQ(decide(PushOutcome::failure(NetworkError::timeout), 9, c, 0.5, kNow).action, Action::dead_letter);
}

TEST(RetryPolicy, SameInputsSameDecision) {
  auto outcome = with_headers(429, "Sun, 06 Nov 1994 08:49:47 GMT", "100", "50000");
  auto a = decide(outcome, 3, config(), 0.3, kNow);
  auto b = decide(outcome, 3, config(), 0.3, kNow);
  EXPECT_EQ(a.action, b.action);
  EXPECT_EQ(a.delay, b.delay);
  EXPECT_EQ(a.reason, b.reason);
}

TEST(RetryPolicy, ActionNames) {
  EXPECT_EQ(omt::delivery::to_string(Action::delivered), "delivered");
  EXPECT_EQ(omt::delivery::to_string(Action::retry), "retry");
  EXPECT_EQ(omt::delivery::to_string(Action::dead_letter), "dead_letter");
  EXPECT_EQ(omt::delivery::to_string(Action::hold_key), "hold_key");
}

}  // namespace
