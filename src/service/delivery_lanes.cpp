// Live before backfill: which lane of a key may take a rate token, a push slot or an active place now. The rule
// and why it is enough are in delivery_engine.hpp ("Live before backfill").
#include <algorithm>

#include "delivery_engine.hpp"

namespace omt::service {

namespace {

using Phase = DeliveryService::Impl::Partition::Phase;

// A live partition in these phases has records it is about to push: the key's next token is its.
bool ready_to_push(Phase phase) { return phase == Phase::leasing || phase == Phase::waiting; }

}  // namespace

bool DeliveryService::Impl::live_ahead(const std::string& api_key) const {
  for (auto it = partitions_.lower_bound(PartitionKey{api_key}); it != partitions_.end() && it->first.api_key == api_key;
       ++it) {
    if (it->first.live() && ready_to_push(it->second->phase)) return true;
  }
  return false;
}

// A backfill partition behind live ones waits (without a timer: wake_backfill calls it again); held back for half
// its lease, it lets its batch go, so that no lease runs out under records still waiting here.
bool DeliveryService::Impl::may_take_token(Partition& p, Steady::time_point now) {
  if (p.key.live() || !live_ahead(p.key.api_key)) {
    p.behind_live = false;
    return true;
  }
  if (!p.behind_live) {
    p.behind_live = true;
    p.behind_live_since = now;
  } else if (now - p.behind_live_since >= options_.lease_for / 2) {
    // The records stay leased until their lease ends, then any pusher of the lane leases them again.
    clear_batch(p);
    go_idle(p);
  }
  return false;
}

void DeliveryService::Impl::wake_backfill(const Partition& live) {
  const std::string& api_key = live.key.api_key;
  if (live_ahead(api_key)) return;
  std::vector<PartitionKey> behind;
  for (auto it = partitions_.lower_bound(PartitionKey{api_key}); it != partitions_.end() && it->first.api_key == api_key;
       ++it) {
    if (it->second->behind_live && it->second->phase == Phase::waiting) behind.push_back(it->first);
  }
  // Collected first: dispatching may change what the loop walks.
  for (const auto& key : behind) try_dispatch(partition(key));
}

std::size_t DeliveryService::Impl::backfill_slots() const {
  const std::size_t all = options_.max_in_flight;
  if (all <= 1) return all;
  return all - std::max<std::size_t>(1, all / 4);
}

bool DeliveryService::Impl::has_slot(const Partition& p) const {
  if (sending_ >= options_.max_in_flight) return false;
  return p.key.live() || sending_backfill_ < backfill_slots();
}

bool DeliveryService::Impl::may_activate(const PartitionKey& key) const {
  if (active_ >= max_active()) return false;
  return key.live() || active_backfill_ < max_active() / 2;
}

void DeliveryService::Impl::count_active(const Partition& p, int change) {
  auto step = [change](std::size_t& n) {
    if (change > 0) ++n;
    else if (n > 0) --n;
  };
  step(active_);
  if (!p.key.live()) step(active_backfill_);
}

}  // namespace omt::service
