// Keys Ometria refused (401/403): their records are held in the queue (kept, not pushed) and, after
// hold_probe_interval, released for one probe push; the probe's answer ends the hold or renews it. Who is held
// and which pusher may probe is delivery::KeyHoldTable's; this file adds the timers and the queue calls.
#include <algorithm>
#include <utility>

#include "delivery_engine.hpp"
#include "omt/obs/log.hpp"

namespace omt::service {

void DeliveryService::Impl::hold(const std::string& api_key, const std::string& reason, milliseconds probe_after) {
  if (holds_.hold(api_key, reason, wall_now_ms(), probe_after)) {
    events_.emit(obs::KeyHeld{api_key, reason, probe_after});
    arm_probe(api_key, probe_after);
  }
  publish_holds();
  // Records other partitions of this key leased meanwhile go back; they wait for the probe.
  for (auto& [key, part] : partitions_) {
    if (key.api_key != api_key) continue;
    if (part->phase == Partition::Phase::collecting || part->phase == Partition::Phase::waiting) {
      ++part->timer_generation;
      release(*part);
    }
  }
}

void DeliveryService::Impl::arm_probe(const std::string& api_key, milliseconds after) {
  auto& timer = probe_timers_[api_key];
  if (!timer) timer = std::make_shared<asio::steady_timer>(strand_);
  timer->expires_after(after);
  timer->async_wait([self = shared_from_this(), api_key](const boost::system::error_code& ec) {
    if (ec || self->stopping_.load()) return;
    self->probe(api_key);
  });
}

void DeliveryService::Impl::probe(const std::string& api_key) {
  const auto it = holds_.holds().find(api_key);
  if (it == holds_.holds().end() || it->second.probing) return;
  if (!claims(api_key)) {
    // Another instance delivers this key: its owner probes it (it adopted the hold when it took the key). The
    // hold stays in the queue; here it is forgotten, and adopted again should this instance take the key.
    holds_.release(api_key);
    return publish_holds();
  }
  // An operator command (queue rekey / queue release) may have dropped the hold in the queue meanwhile: then
  // there is nothing left to probe for, and the key is held no longer.
  // Two operations in turn: the second is started from the first one's answer (it is only queued there).
  on_queue<bool>([api_key](queue::Queue& q, queue::Done<bool> done) {
             q.held_keys([&q, api_key, done = std::move(done)](Expected<std::vector<queue::HeldKey>> held) {
               if (!held) return done(tl::unexpected(held.error()));
               const bool still = std::any_of(held->begin(), held->end(), [&](const auto& h) { return h.api_key == api_key; });
               if (!still) return done(false);
               q.unhold_key(api_key, [done](Expected<void> unheld) {
                 if (!unheld) return done(tl::unexpected(unheld.error()));
                 done(true);
               });
             });
           },
           [api_key](const Self& self, Expected<bool> unheld) {
             if (!self->holds_.held(api_key)) return;
             if (unheld && !*unheld) {
               self->holds_.release(api_key);
               self->publish_holds();
               self->events_.emit(obs::KeyHoldDropped{api_key});
               return self->request_scan();
             }
             if (!unheld) {
               self->events_.emit(obs::ProbeNotStarted{api_key, unheld.error().message});
               const auto again = self->options_.retry.hold_probe_interval;
               self->holds_.postpone_probe(api_key, self->wall_now_ms(), again);
               return self->arm_probe(api_key, again);
             }
             self->holds_.start_probe(api_key);
             self->publish_holds();
             self->events_.emit(obs::KeyProbing{api_key});
             self->next_scan_allowed_ = Steady::time_point{};
             self->request_scan();
           });
}

// The probe got an answer other than 401/403: the key itself is no longer refused.
void DeliveryService::Impl::end_hold(const std::string& api_key, delivery::PushPlan::HoldChange why) {
  holds_.release(api_key);
  publish_holds();
  if (why == delivery::PushPlan::HoldChange::accepted_again) events_.emit(obs::KeyAcceptedAgain{api_key});
  else events_.emit(obs::KeyNoLongerRefused{api_key});
  request_scan();
}

// Keys held by an earlier run: each is probed hold_probe_interval after it was held.
void DeliveryService::Impl::restore_holds(const std::vector<queue::HeldKey>& held) {
  const auto now = wall_now_ms();
  for (const auto& k : held) {
    const auto probe_in = holds_.restore(k.api_key, k.reason, k.held_at, now, options_.retry.hold_probe_interval);
    events_.emit(obs::KeyHeldSincePreviousRun{k.api_key, k.reason, probe_in});
    arm_probe(k.api_key, probe_in);
  }
  publish_holds();
}

void DeliveryService::Impl::publish_holds() {
  std::vector<HeldKeyStatus> snapshot;
  std::vector<std::string> keys;
  for (const auto& [key, h] : holds_.holds()) {
    snapshot.push_back(HeldKeyStatus{obs::key_fingerprint(key), h.reason, h.held_at_ms, h.probing});
    keys.push_back(key);
  }
  events_.emit(obs::HeldKeysChanged{keys});
  std::lock_guard lock(snapshot_mutex_);
  held_snapshot_ = std::move(snapshot);
}

}  // namespace omt::service
