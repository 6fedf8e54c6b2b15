// Which keys this instance delivers when several instances share the queue (queue::KeyOwnership). A round runs
// every lease_timeout / 3 (sooner when a scan sees due records of a key nobody claims): it renews this instance's
// claims, claims free or expired keys up to the fair share and says which are over it. A key over the share is
// drained first (no new push; its in-flight pushes finish) and given back in a later round, so two instances never
// push one key at once. Claims count as valid until the round's start plus lease_timeout by this clock: if no round
// gets through by then, nothing is pushed until one does (another instance may have taken the keys by then).
#include <algorithm>
#include <future>
#include <utility>

#include "delivery_engine.hpp"

namespace omt::service {

namespace {

std::chrono::milliseconds renew_every(const queue::KeyOwnership& o) {
  return std::max(milliseconds(100), o.lease_timeout() / 3);
}

// Rounds asked for by scans are spaced by this at least (a free key is claimed within it).
std::chrono::milliseconds soonest_round_gap(const queue::KeyOwnership& o) {
  return std::clamp(o.lease_timeout() / 10, milliseconds(100), milliseconds(1000));
}

}  // namespace

bool DeliveryService::Impl::owns(const std::string& api_key) const {
  if (ownership_ == nullptr) return true;
  return owned_.count(api_key) != 0 && Steady::now() < owned_until_;
}

bool DeliveryService::Impl::claims(const std::string& api_key) const {
  return ownership_ == nullptr || owned_.count(api_key) != 0 || draining_.count(api_key) != 0;
}

bool DeliveryService::Impl::unclaimed(const std::string& api_key) const {
  return ownership_ != nullptr && owned_.count(api_key) == 0 && draining_.count(api_key) == 0 &&
         claimed_by_others_.count(api_key) == 0;
}

void DeliveryService::Impl::start_ownership() {
  if (ownership_ == nullptr) return;
  ownership_events_.emit(obs::OwnershipStarted{ownership_->instance_id()});
  ownership_round();
}

void DeliveryService::Impl::schedule_round_at(Steady::time_point when) {
  if (ownership_ == nullptr || stopping_.load()) return;
  if (round_running_) {
    round_wanted_ = true;
    return;
  }
  when = std::max(when, last_round_started_ + soonest_round_gap(*ownership_));
  if (when >= ownership_timer_at_) return;
  ownership_timer_at_ = when;
  const std::uint64_t generation = ++ownership_timer_generation_;
  ownership_timer_.expires_at(when);
  ownership_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || self->ownership_timer_generation_ != generation) return;
    self->ownership_timer_at_ = Steady::time_point::max();
    self->ownership_round();
  });
}

void DeliveryService::Impl::ownership_round() {
  if (stopping_.load() || round_running_) return;
  round_running_ = true;
  round_wanted_ = false;
  const auto started = Steady::now();
  last_round_started_ = started;
  // Drained keys go back now: none of their pushes is on the wire or leasing any more.
  std::vector<std::string> give_back;
  for (const auto& key : draining_) {
    const bool busy = std::any_of(partitions_.begin(), partitions_.end(), [&](const auto& entry) {
      const auto phase = entry.second->phase;
      return entry.first.api_key == key &&
             (phase == Partition::Phase::sending || phase == Partition::Phase::leasing);
    });
    if (!busy) give_back.push_back(key);
  }
  on_queue<queue::OwnedKeys>(
      [ownership = ownership_, give_back](queue::Queue&, queue::Done<queue::OwnedKeys> done) {
        ownership->refresh_ownership(queue::OwnershipRequest{give_back}, std::move(done));
      },
      [started, give_back](const Self& self, Expected<queue::OwnedKeys> round) mutable {
        self->on_ownership_round(started, std::move(give_back), std::move(round));
      });
}

void DeliveryService::Impl::on_ownership_round(Steady::time_point started, std::vector<std::string> gave_back,
                                               Expected<queue::OwnedKeys> round) {
  round_running_ = false;
  if (stopping_.load()) return;
  const auto now = Steady::now();
  if (!round) {
    ownership_events_.emit(obs::OwnershipRoundFailed{round.error().message});
    if (now >= owned_until_ && !(owned_.empty() && draining_.empty())) {
      ownership_events_.emit(obs::OwnershipExpired{owned_.size() + draining_.size()});
      owned_.clear();
      draining_.clear();
      ownership_events_.emit(obs::OwnedKeysCounted{0, 0, 1});
      stop_pushing_unowned();
    }
    // Tried again soon, well before the claims run out if they have not yet.
    schedule_round_at(now + std::min(renew_every(*ownership_), soonest_round_gap(*ownership_) * 2));
    return;
  }
  const std::set<std::string> before = [&] {
    std::set<std::string> all = owned_;
    all.insert(draining_.begin(), draining_.end());
    return all;
  }();
  const std::set<std::string> now_owned(round->owned.begin(), round->owned.end());
  const std::set<std::string> given(gave_back.begin(), gave_back.end());
  for (const auto& key : before) {
    if (now_owned.count(key) != 0) continue;
    if (given.count(key) != 0) ownership_events_.emit(obs::KeyGivenBack{key, round->fair_share});
    else ownership_events_.emit(obs::KeyLost{key});
  }
  const std::set<std::string> expired(round->taken_from_expired.begin(), round->taken_from_expired.end());
  // Whoever pushed a key taken over before (another instance, or this one before its claim lapsed) may have pushed
  // it within the last second: its first push here waits a second, so no second sees twice the rate.
  for (const auto& key : round->taken_over) {
    ownership_events_.emit(obs::KeyTakenOver{key, expired.count(key) != 0});
    limiter_.taken_over(key, now);
  }

  std::vector<std::string> gained_keys;
  for (const auto& key : round->owned)
    if (before.count(key) == 0) gained_keys.push_back(key);
  bool gained = false;
  owned_.clear();
  draining_.clear();
  const std::set<std::string> over(round->to_give_back.begin(), round->to_give_back.end());
  for (const auto& key : round->owned) {
    if (over.count(key) != 0) {
      draining_.insert(key);
      continue;
    }
    owned_.insert(key);
    gained = gained || before.count(key) == 0 || now >= owned_until_;
  }
  claimed_by_others_ = std::set<std::string>(round->claimed_by_others.begin(), round->claimed_by_others.end());
  owned_until_ = started + ownership_->lease_timeout();
  ownership_events_.emit(obs::OwnedKeysCounted{owned_.size(), round->keys, round->live_instances});
  stop_pushing_unowned();
  if (gained) request_scan();
  adopt_holds(std::move(gained_keys));
  schedule_round_at(round_wanted_ ? now : started + renew_every(*ownership_));
}

// A key held in the queue is never ready (ready_partitions leaves it out), so the new owner would push nothing of
// it and nobody would probe it: its hold is read from the queue and kept here, with its probe due as it was.
void DeliveryService::Impl::adopt_holds(std::vector<std::string> gained) {
  gained.insert(gained.end(), holds_to_adopt_.begin(), holds_to_adopt_.end());
  holds_to_adopt_.clear();
  if (gained.empty()) return;
  on_queue<std::vector<queue::HeldKey>>(
      [](queue::Queue& q, queue::Done<std::vector<queue::HeldKey>> done) { q.held_keys(std::move(done)); },
      [gained = std::move(gained)](const Self& self, Expected<std::vector<queue::HeldKey>> held) {
        if (!held) {
          self->events_.emit(obs::HeldKeysUnreadable{held.error().message});
          self->holds_to_adopt_ = gained;
          return;
        }
        const auto now = self->wall_now_ms();
        bool adopted = false;
        for (const auto& k : *held) {
          if (std::find(gained.begin(), gained.end(), k.api_key) == gained.end() || self->holds_.held(k.api_key) ||
              !self->claims(k.api_key))
            continue;
          const auto probe_in =
              self->holds_.restore(k.api_key, k.reason, k.held_at, now, self->options_.retry.hold_probe_interval);
          self->ownership_events_.emit(obs::HeldKeyTakenOver{k.api_key, k.reason, probe_in});
          self->arm_probe(k.api_key, probe_in);
          adopted = true;
        }
        if (adopted) self->publish_holds();
      });
}

// Partitions of keys this instance may not push any more give their leased records back at once (they are due
// again for the key's owner); a push on the wire finishes, and its partition then goes idle (finish: may_push).
void DeliveryService::Impl::stop_pushing_unowned() {
  for (auto& [key, p] : partitions_) {
    if (owns(key.api_key)) continue;
    if (p->phase != Partition::Phase::collecting && p->phase != Partition::Phase::waiting) continue;
    release(*p);
  }
}

// On a stop, with several instances on one queue: records leased here and not pushed would stay leased for
// delivery.lease_for (minutes), and the key's next owner would push the newer records first. They go back now:
// those in memory at once, those of a lease under way when its answer comes (the stop waits for both, up to its
// deadline, as it waits for pushes). A push in flight keeps its records until its answer.
void DeliveryService::Impl::give_back_unpushed_on_stop() {
  if (ownership_ == nullptr) return;
  for (auto& [key, p] : partitions_) {
    if (p->phase == Partition::Phase::leasing) {
      if (!p->busy_until_leased) {
        p->busy_until_leased = true;
        begin_busy();
      }
    } else if (p->phase == Partition::Phase::collecting || p->phase == Partition::Phase::waiting) {
      give_back_on_stop(*p);
    }
  }
}

void DeliveryService::Impl::give_back_on_stop(Partition& p) {
  if (ownership_ == nullptr || p.batch.empty()) return;
  std::vector<queue::RecordId> ids;
  for (const auto& r : p.batch) ids.push_back(r.id);
  clear_batch(p);
  begin_busy();
  on_queue<std::size_t>(
      // Not a delivery attempt: nothing was pushed.
      [ids = std::move(ids)](queue::Queue& q, queue::Done<std::size_t> done) { q.give_back(ids, std::move(done)); },
      [](const Self& self, Expected<std::size_t> done) {
        if (!done) self->events_.emit(obs::HeldRecordsNotReleased{done.error().message});
        self->end_busy();
      });
}

// On stop: every claim back, so that the others take the keys at their next round rather than after
// lease_timeout. Waited for up to deadline (the queue's thread runs it); a failure leaves the claims to expire.
void DeliveryService::Impl::resign_ownership(milliseconds deadline) {
  if (ownership_ == nullptr) return;
  auto done = std::make_shared<std::promise<void>>();
  auto waited = done->get_future();
  // Held weakly, as on_queue holds the engine: the queue's thread must never keep it alive past its service.
  ownership_->resign_ownership([engine = weak_from_this(), done](Expected<void> r) {
    if (auto self = engine.lock(); self && !r) self->ownership_events_.emit(obs::OwnershipRoundFailed{r.error().message});
    done->set_value();
  });
  (void)waited.wait_for(deadline);
}

}  // namespace omt::service
