// plan_after_push: what every kind of answer to a push leads to, with the outcomes the fake sender gives and
// no queue, no clock and no sockets.
#include <gtest/gtest.h>

#include <vector>

#include "omt/delivery/fake_sender.hpp"
#include "omt/delivery/push_plan.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::FakeSender;
using omt::delivery::NetworkError;
using omt::delivery::PartitionState;
using omt::delivery::plan_after_push;
using omt::delivery::PushOutcome;
using omt::delivery::PushPlan;
using omt::delivery::PushRequest;
using Action = omt::delivery::Decision::Action;
using HoldChange = PushPlan::HoldChange;

const auto kNow = std::chrono::system_clock::time_point{std::chrono::seconds{1'700'000'000}};

omt::delivery::RetryConfig config() {
  omt::delivery::RetryConfig c;
  c.base_delay = 1s;
  c.max_delay = 8s;
  return c;
}

// The outcome of one push through a fake sender scripted with `answer`.
PushOutcome pushed(PushOutcome answer) {
  FakeSender sender;
  sender.script(std::move(answer));
  std::vector<PushOutcome> outcomes;
  sender.send(PushRequest{"https://example.invalid/v2/push", "k", R"([{"id":"a"}])"},
              [&](PushOutcome o) { outcomes.push_back(std::move(o)); });
  EXPECT_EQ(outcomes.size(), 1u);
  return outcomes.empty() ? PushOutcome{} : outcomes.front();
}

PushPlan plan(const PushOutcome& outcome, PartitionState state = {1, 0, false, false}, double uniform = 0.5) {
  return plan_after_push(outcome, state, config(), uniform, kNow);
}

TEST(PushPlan, DeliveredAcksAndAFullPushLeasesAgainAtOnce) {
  const auto partial = plan(pushed(FakeSender::accepted(3)), {3, 0, false, false});
  EXPECT_EQ(partial.decision.action, Action::delivered);
  EXPECT_FALSE(partial.lease_again);
  EXPECT_FALSE(partial.pause_key);
  EXPECT_FALSE(partial.backoff);
  EXPECT_EQ(partial.hold, HoldChange::none);
  EXPECT_EQ(partial.rejected, 0);
  EXPECT_EQ(partial.attempt, 1u);
  EXPECT_TRUE(plan(pushed(FakeSender::accepted(100)), {100, 0, true, false}).lease_again);
}

TEST(PushPlan, RejectedRecordsAreCountedFromTheReceipt) {
  omt::delivery::HttpAnswer answer;
  answer.status = 202;
  answer.body = R"({"status":"OK","request_id":"r","accepted":98,"rejected":2})";
  const auto p = plan(pushed(PushOutcome::answered(answer)), {100, 0, true, false});
  EXPECT_EQ(p.decision.action, Action::delivered);
  EXPECT_EQ(p.rejected, 2);
  EXPECT_TRUE(p.lease_again);  // not retried: Ometria would reject them again
}

TEST(PushPlan, ABacklogNearlyFullPausesTheKeyAndDoesNotLeaseAgainAtOnce) {
  omt::delivery::HttpAnswer answer;
  answer.status = 202;
  answer.queue_size_remaining = "0";
  answer.queue_size_limit = "50000";
  const auto p = plan(pushed(PushOutcome::answered(answer)), {100, 0, true, false});
  EXPECT_EQ(p.decision.action, Action::delivered);
  ASSERT_TRUE(p.pause_key);
  EXPECT_EQ(*p.pause_key, config().queue_pressure_max_delay);
  EXPECT_FALSE(p.lease_again);
}

TEST(PushPlan, ARetryBacksThePartitionOffAndA429PausesTheWholeKey) {
  const auto server_error = plan(pushed(FakeSender::status(503)), {5, 2, true, false});
  EXPECT_EQ(server_error.decision.action, Action::retry);
  EXPECT_EQ(server_error.attempt, 3u);
  ASSERT_TRUE(server_error.backoff);
  EXPECT_EQ(*server_error.backoff, 2s);  // half of the third ceiling (4 s)
  EXPECT_FALSE(server_error.pause_key);
  EXPECT_FALSE(server_error.lease_again);

  const auto throttled = plan(pushed(FakeSender::status(429, "7")));
  EXPECT_EQ(throttled.decision.action, Action::retry);
  ASSERT_TRUE(throttled.pause_key);
  EXPECT_EQ(*throttled.pause_key, 7s);  // the account's rate limit, not one type's
  EXPECT_EQ(throttled.backoff, throttled.pause_key);

  FakeSender sender;
  sender.fail_call(1, NetworkError::timeout);
  std::vector<PushOutcome> outcomes;
  sender.send(PushRequest{"u", "k", "[]"}, [&](PushOutcome o) { outcomes.push_back(std::move(o)); });
  ASSERT_EQ(outcomes.size(), 1u);
  const auto timed_out = plan(outcomes[0]);
  EXPECT_EQ(timed_out.decision.action, Action::retry);
  EXPECT_EQ(timed_out.decision.reason, "timeout");
  EXPECT_FALSE(timed_out.pause_key);
}

TEST(PushPlan, ARefusedPayloadIsDeadLetteredAndTheNextRecordsFollow) {
  const auto p = plan(pushed(FakeSender::status(400)), {100, 0, true, false});
  EXPECT_EQ(p.decision.action, Action::dead_letter);
  EXPECT_NE(p.decision.reason.find("400"), std::string::npos);
  EXPECT_TRUE(p.lease_again);
  EXPECT_FALSE(p.backoff);
}

TEST(PushPlan, ARefusedKeyStartsAHold) {
  for (int status : {401, 403}) {
    const auto p = plan(pushed(FakeSender::status(status)), {100, 0, true, false});
    EXPECT_EQ(p.decision.action, Action::hold_key);
    EXPECT_EQ(p.hold, HoldChange::start);
    EXPECT_EQ(p.decision.delay, config().hold_probe_interval);  // the probe comes after this
    EXPECT_FALSE(p.lease_again);
  }
}

TEST(PushPlan, TheProbesAnswerEndsTheHoldUnlessTheKeyIsRefusedAgain) {
  const PartitionState probe{1, 0, false, true};
  EXPECT_EQ(plan(pushed(FakeSender::accepted(1)), probe).hold, HoldChange::accepted_again);
  EXPECT_EQ(plan(pushed(FakeSender::status(500)), probe).hold, HoldChange::no_longer_refused);
  EXPECT_EQ(plan(pushed(FakeSender::status(400)), probe).hold, HoldChange::no_longer_refused);
  EXPECT_EQ(plan(pushed(FakeSender::status(401)), probe).hold, HoldChange::start);
  EXPECT_EQ(plan(pushed(FakeSender::accepted(1))).hold, HoldChange::none);  // not a probe
}

TEST(PushPlan, GivingUpAfterMaxAttemptsDeadLetters) {
  auto c = config();
  c.max_attempts = 3;
  const auto p = plan_after_push(pushed(FakeSender::status(500)), {4, 2, false, false}, c, 0.5, kNow);
  EXPECT_EQ(p.decision.action, Action::dead_letter);
  EXPECT_NE(p.decision.reason.find("gave up after 3 attempts"), std::string::npos) << p.decision.reason;
}

}  // namespace
