// What delivery does once a push is answered: a pure function of the outcome, the pushed partition's state and
// the retry configuration, returning the actions (the queue update, whether to lease again at once, pauses, a
// hold of the key starting or ending) that the delivery service then carries out. The retry decision inside
// is delivery::decide(); like it, plan_after_push never throws and never reads a clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "omt/delivery/push.hpp"
#include "omt/delivery/retry_policy.hpp"

namespace omt::delivery {

// The partition (pusher) whose records were pushed.
struct PartitionState {
  std::size_t records = 0;         // in the push
  std::uint32_t max_attempts = 0;  // the most failed pushes any of them had before this one
  bool full = false;               // the push was as full as it gets (100 records, or due records left behind)
  bool probe = false;              // the push was the probe of a held key
};

struct PushPlan {
  // decide()'s verdict for attempt max_attempts + 1. The queue update follows its action: delivered -> ack;
  // retry -> reschedule after decision.delay; dead_letter -> dead-letter with decision.reason; hold_key -> hold
  // the key in the queue and put the records back (due at once, untouched until the key is released).
  Decision decision;
  std::uint32_t attempt = 1;
  // Lease the partition's next records at once, beside the queue update (a full push that needs no pause).
  bool lease_again = false;
  // Every push of this key waits this long: a 429 (the rate limit is the account's) or Ometria's backlog.
  std::optional<std::chrono::milliseconds> pause_key;
  // This partition pushes again no sooner than this (the retry's backoff); look for ready records then.
  std::optional<std::chrono::milliseconds> backoff;
  enum class HoldChange {
    none,
    start,            // Ometria refused the key (401/403): hold it, probe after decision.delay
    accepted_again,   // the probe was delivered
    no_longer_refused,  // the probe got another answer than 401/403 (retried or dead-lettered)
  };
  HoldChange hold = HoldChange::none;
  std::int64_t rejected = 0;  // records Ometria's receipt counts as rejected (not retried: they would be again)
};

PushPlan plan_after_push(const PushOutcome& outcome, const PartitionState& partition, const RetryConfig& config,
                         double uniform01, std::chrono::system_clock::time_point now);

}  // namespace omt::delivery
