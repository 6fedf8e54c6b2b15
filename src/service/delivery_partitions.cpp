// A partition's lifecycle: lease its due records, linger for more, wait for a slot and a token, push, then carry
// out delivery::plan_after_push's plan (ack, reschedule, dead-letter or hold, and lease again or go idle).
#include <algorithm>
#include <utility>

#include "delivery_engine.hpp"
#include "omt/obs/log.hpp"

namespace omt::service {

namespace {

using Action = delivery::Decision::Action;

std::string status_label(const delivery::PushOutcome& outcome) {
  if (!outcome.has_answer()) return std::string(delivery::to_string(*outcome.network_error));
  return std::to_string(outcome.answer.status);
}

// What a dead letter keeps as its reason: the policy's, then Ometria's own explanation from the answer body
// (which field is malformed, ...), redacted, on one line and bounded (obs::answer_excerpt).
std::string dead_letter_reason(const delivery::Decision& decision, const delivery::PushOutcome& outcome) {
  if (!outcome.has_answer()) return decision.reason;
  if (outcome.answer.body_truncated) return decision.reason + "; Ometria's answer: over the size limit, not kept";
  const std::string excerpt = obs::answer_excerpt(outcome.answer.body);
  if (excerpt.empty()) return decision.reason;
  return decision.reason + "; Ometria's answer: " + excerpt;
}

}  // namespace

// A held key pushes nothing, except one partition carrying the probe once the probe time has come; a key another
// instance delivers (or whose claim lapsed) pushes nothing here.
bool DeliveryService::Impl::may_push(Partition& p) {
  return owns(p.key.api_key) && holds_.may_push(p.key.api_key, p.key.pusher_of_key());
}

// ---- leasing and lingering ----

void DeliveryService::Impl::start_lease(Partition& p) {
  p.phase = Partition::Phase::leasing;
  const std::size_t want = options_.max_records_per_push - p.batch.size();
  on_queue<queue::Leased>(
      [key = p.key, want, lease_for = options_.lease_for](queue::Queue& q, queue::Done<queue::Leased> done) {
        q.lease(key.api_key, key.type, key.lane, want, lease_for, std::move(done));
      },
      [key = p.key](const Self& self, Expected<queue::Leased> leased) {
        self->on_leased(self->partition(key), std::move(leased));
      });
}

void DeliveryService::Impl::on_leased(Partition& p, Expected<queue::Leased> leased) {
  if (!leased) {
    events_.emit(obs::LeaseFailed{p.key.api_key, ometria::to_string(p.key.type), leased.error().message});
  } else {
    p.more_due = leased->more_due;
    for (auto& r : leased->records) {
      if (!p.ids.insert(r.id).second) continue;
      if (p.batch.empty() || r.created_at < p.oldest_created_at) p.oldest_created_at = r.created_at;
      p.max_attempts = std::max(p.max_attempts, r.attempts);
      p.batch.push_back(LeasedRecord{r.id, std::move(r.json), r.lane});
    }
  }
  if (stopping_.load()) {
    // Alone on its queue, the leases end with the process (the next one takes them over); several instances on
    // one queue: given back now (delivery_ownership.cpp).
    if (p.busy_until_leased) {
      p.busy_until_leased = false;
      give_back_on_stop(p);
      end_busy();
    }
    return;
  }
  if (!may_push(p)) return release(p);
  if (p.batch.empty()) {
    clear_probe(p);
    if (!leased) p.not_before = Steady::now() + options_.poll_interval;
    return go_idle(p);
  }
  // Clamped: the queue's clock and this one may disagree by a little.
  const auto lingered = std::clamp(milliseconds(wall_now_ms() - p.oldest_created_at), milliseconds(0), options_.linger);
  if (is_full(p) || lingered >= options_.linger) {
    p.phase = Partition::Phase::waiting;
    return try_dispatch(p);
  }
  p.phase = Partition::Phase::collecting;
  if (p.key.live()) wake_backfill(p);
  arm_timer(p, options_.linger - lingered, [](Impl& self, Partition& q) {
    // The linger is over: take whatever else arrived, then push.
    if (q.phase == Partition::Phase::collecting) self.start_lease(q);
  });
}

// ---- pushing ----

void DeliveryService::Impl::try_dispatch(Partition& p) {
  if (p.phase != Partition::Phase::waiting || stopping_.load()) return;
  if (!may_push(p)) return release(p);
  const auto now = Steady::now();
  if (const auto pause = earliest_push(p); now < pause) {
    return arm_timer(p, pause - now, [](Impl& self, Partition& q) { self.try_dispatch(q); });
  }
  if (!has_slot(p)) {
    if (!p.queued_for_slot) {
      p.queued_for_slot = true;
      waiting_for_slot_[static_cast<std::size_t>(p.key.lane)].push_back(p.key);
    }
    return;
  }
  if (!may_take_token(p, now)) return;  // woken by the live partition it waits for
  if (!limiter_.try_acquire(p.key.api_key, now)) {
    const auto wait = std::max<Steady::duration>(limiter_.wait_time(p.key.api_key, now), milliseconds(1));
    return arm_timer(p, wait, [](Impl& self, Partition& q) { self.try_dispatch(q); });
  }
  send(p);
}

void DeliveryService::Impl::send(Partition& p) {
  p.phase = Partition::Phase::sending;
  ++sending_;
  if (!p.key.live()) ++sending_backfill_;
  events_.emit(obs::PushesInFlight{sending_});
  begin_busy();
  std::vector<std::string_view> records;
  records.reserve(p.batch.size());
  for (const auto& r : p.batch) records.push_back(r.json);
  delivery::PushRequest request{options_.endpoint, p.key.api_key, ometria::push_body(records)};
  const auto started = Steady::now();
  sender_.send(std::move(request), [self = shared_from_this(), key = p.key, started](delivery::PushOutcome outcome) mutable {
    asio::post(self->strand_, [self, key = std::move(key), started, outcome = std::move(outcome)]() mutable {
      self->on_pushed(self->partition(key), started, std::move(outcome));
    });
  });
  if (p.key.live()) wake_backfill(p);
}

void DeliveryService::Impl::on_pushed(Partition& p, Steady::time_point started, delivery::PushOutcome outcome) {
  --sending_;
  if (!p.key.live()) --sending_backfill_;
  events_.emit(obs::PushesInFlight{sending_});
  const auto now = Steady::now();
  events_.emit(obs::PushAnswered{now - started});
  pushes_.fetch_add(1, std::memory_order_relaxed);
  if (closed()) return end_busy();

  const delivery::PartitionState state{p.batch.size(), p.max_attempts, is_full(p), is_probe(p)};
  const auto plan = delivery::plan_after_push(outcome, state, options_.retry, random01(), wall_now());
  tell(p, outcome, plan, now - started);
  log_push(p, outcome, now - started);
  if (plan.decision.action == Action::delivered && errors_poll_on()) remember_push(p, outcome);

  if (plan.pause_key) key_pause_[p.key.api_key] = now + *plan.pause_key;
  if (plan.backoff) p.not_before = now + *plan.backoff;
  if (plan.hold == delivery::PushPlan::HoldChange::start) hold(p.key.api_key, plan.decision.reason, plan.decision.delay);
  else if (plan.hold != delivery::PushPlan::HoldChange::none) end_hold(p.key.api_key, plan.hold);
  if (plan.backoff) schedule_scan_at(now + *plan.backoff);

  std::vector<queue::RecordId> ids;
  ids.reserve(p.batch.size());
  for (const auto& r : p.batch) ids.push_back(r.id);
  const auto& decision = plan.decision;
  switch (decision.action) {
    case Action::delivered:
      finish(p, [ids = std::move(ids)](queue::Queue& q, queue::Done<std::size_t> done) { q.ack(ids, std::move(done)); },
             plan.lease_again, "ack");
      break;
    case Action::retry:
      finish(p,
             [ids = std::move(ids), delay = decision.delay](queue::Queue& q, queue::Done<std::size_t> done) {
               q.reschedule(ids, delay, std::move(done));
             },
             plan.lease_again, "reschedule");
      break;
    case Action::dead_letter:
      finish(p,
             [ids = std::move(ids), reason = dead_letter_reason(decision, outcome)](queue::Queue& q,
                                                                                    queue::Done<std::size_t> done) {
               q.dead_letter(ids, reason, std::move(done));
             },
             plan.lease_again, "dead-letter");
      break;
    case Action::hold_key:
      finish(p,
             [ids = std::move(ids), key = p.key.api_key, reason = decision.reason](queue::Queue& q,
                                                                                   queue::Done<std::size_t> done) {
               q.hold_key(key, reason, [&q, ids, done](Expected<void> held) {
                 if (!held) return done(tl::unexpected(held.error()));
                 q.reschedule(ids, milliseconds(0), done);  // back in the queue, untouched until the key is released
               });
             },
             plan.lease_again, "hold");
      break;
  }
  drain_waiting();
}

// What became of the push, told once: its event (log line and counters) and DeliveryService::counters().
void DeliveryService::Impl::tell(const Partition& p, const delivery::PushOutcome& outcome,
                                 const delivery::PushPlan& plan, Steady::duration took) {
  const std::string status = status_label(outcome);
  const auto type = ometria::to_string(p.key.type);
  const std::size_t count = p.batch.size();
  const auto& decision = plan.decision;
  switch (decision.action) {
    case Action::delivered: {
      const auto& receipt = outcome.answer.receipt;
      events_.emit(obs::PushDelivered{
          .api_key = p.key.api_key,
          .type = type,
          .records = count,
          .status = status,
          .request_id = receipt ? std::optional<std::string_view>(receipt->request_id) : std::nullopt,
          .accepted = receipt ? receipt->accepted : std::nullopt,
          .rejected = plan.rejected,
          .took = std::chrono::duration_cast<milliseconds>(took)});
      // Ometria validates asynchronously; the same records would be rejected again, so they are not retried.
      if (plan.rejected > 0) events_.emit(obs::RecordsRejectedByOmetria{p.key.api_key, type, plan.rejected, count});
      if (plan.pause_key) events_.emit(obs::BacklogPause{p.key.api_key, *plan.pause_key});
      // Records Ometria counted as rejected are not delivered ones (the metric counts them apart too).
      delivered_.fetch_add(count - std::min<std::size_t>(count, static_cast<std::size_t>(std::max<std::int64_t>(plan.rejected, 0))),
                           std::memory_order_relaxed);
      break;
    }
    case Action::retry:
      events_.emit(obs::PushRetried{p.key.api_key, type, count, status, decision.reason, outcome.error_detail,
                                    decision.delay, plan.attempt});
      retried_.fetch_add(count, std::memory_order_relaxed);
      break;
    case Action::dead_letter:
      events_.emit(obs::RecordsDeadLettered{p.key.api_key, type, count, status, decision.reason});
      dead_.fetch_add(count, std::memory_order_relaxed);
      break;
    case Action::hold_key:
      events_.emit(obs::PushKeyRefused{status});
      break;
  }
}

// Applies the queue update of a finished push, then frees the partition or leases again. A partition that
// leases again does so at once, beside its update: the pushed records stay leased until the update is done,
// so the new lease cannot hand them out again, and the partition need not wait for a commit between pushes.
void DeliveryService::Impl::finish(Partition& p, QueueUpdate update, bool lease_again, const char* what) {
  const bool overlapped = lease_again && !stopping_.load() && may_push(p);
  if (overlapped) {
    clear_batch(p);
    start_lease(p);
  }
  on_queue<std::size_t>(std::move(update), [key = p.key, lease_again, overlapped, what](const Self& self, Expected<std::size_t> done) {
    if (!done) {
      // The records stay leased until their lease ends, then they are pushed again (at-least-once).
      self->events_.emit(obs::QueueUpdateFailed{what, key.api_key, ometria::to_string(key.type), done.error().message});
    }
    self->queue_depth_changed();
    self->end_busy();
    if (overlapped) return;
    Partition& q = self->partition(key);
    self->clear_batch(q);
    if (self->stopping_.load()) return;
    if (lease_again && self->may_push(q)) return self->start_lease(q);
    self->go_idle(q);
  });
}

// Live partitions first: a slot freed by any push goes to a live push waiting for one.
void DeliveryService::Impl::drain_waiting() {
  for (auto& waiting : waiting_for_slot_) {
    while (sending_ < options_.max_in_flight && !waiting.empty()) {
      Partition& p = partition(waiting.front());
      if (!has_slot(p)) break;
      waiting.pop_front();
      p.queued_for_slot = false;
      try_dispatch(p);
    }
  }
}

void DeliveryService::Impl::clear_batch(Partition& p) {
  p.batch.clear();
  p.ids.clear();
  p.max_attempts = 0;
  p.more_due = false;
  p.oldest_created_at = 0;
}

void DeliveryService::Impl::go_idle(Partition& p) {
  if (p.phase != Partition::Phase::idle) {
    p.phase = Partition::Phase::idle;
    count_active(p, -1);
  }
  p.behind_live = false;
  ++p.timer_generation;
  if (p.key.live()) wake_backfill(p);
  if (deferred_) request_scan();
}

// Gives leased records back without pushing them (their key is held, or this instance no longer owns it): due
// again, for after the release or for the key's owner.
void DeliveryService::Impl::release(Partition& p) {
  clear_probe(p);
  if (!p.batch.empty()) {
    std::vector<queue::RecordId> ids;
    for (const auto& r : p.batch) ids.push_back(r.id);
    on_queue<std::size_t>(
        // Not a delivery attempt: nothing was pushed, so the records keep their attempts (a key released again and
        // again, as ownership moves or a hold starts, never runs them into retry.max_attempts).
        [ids = std::move(ids)](queue::Queue& q, queue::Done<std::size_t> done) { q.give_back(ids, std::move(done)); },
        [](const Self& self, Expected<std::size_t> done) {
               if (!done) self->events_.emit(obs::HeldRecordsNotReleased{done.error().message});
             });
  }
  clear_batch(p);
  go_idle(p);
}

}  // namespace omt::service
