#include "omt/delivery/push_plan.hpp"

namespace omt::delivery {

PushPlan plan_after_push(const PushOutcome& outcome, const PartitionState& partition, const RetryConfig& config,
                         double uniform01, std::chrono::system_clock::time_point now) {
  using Action = Decision::Action;
  PushPlan plan;
  plan.attempt = partition.max_attempts + 1;
  plan.decision = decide(outcome, plan.attempt, config, uniform01, now);
  const auto delay = plan.decision.delay;
  switch (plan.decision.action) {
    case Action::delivered:
      if (const auto& receipt = outcome.answer.receipt; receipt && receipt->rejected) plan.rejected = *receipt->rejected;
      if (delay.count() > 0) plan.pause_key = delay;
      if (partition.probe) plan.hold = PushPlan::HoldChange::accepted_again;
      plan.lease_again = partition.full && delay.count() == 0;
      break;
    case Action::retry:
      plan.backoff = delay;
      if (outcome.has_answer() && outcome.answer.status == 429) plan.pause_key = delay;
      if (partition.probe) plan.hold = PushPlan::HoldChange::no_longer_refused;
      break;
    case Action::dead_letter:
      if (partition.probe) plan.hold = PushPlan::HoldChange::no_longer_refused;
      plan.lease_again = partition.full;
      break;
    case Action::hold_key:
      plan.hold = PushPlan::HoldChange::start;
      break;
  }
  return plan;
}

}  // namespace omt::delivery
