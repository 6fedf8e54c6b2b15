// DeliveryService: the engine's plumbing (strand, queue answers, clocks), the scans for ready partitions, start and
// stop. Why the engine is shaped as it is: delivery_engine.hpp.
#include "delivery_engine.hpp"

#include <algorithm>
#include <utility>

#include "omt/obs/log.hpp"

namespace omt::service {

DeliveryService::Impl::Impl(asio::io_context& io, queue::Queue& queue, delivery::Sender& sender,
                            DeliveryOptions options, obs::Registry& metrics)
    : strand_(asio::make_strand(io)),
      queue_(queue),
      sender_(sender),
      options_(std::move(options)),
      limiter_(options_.rate_limit),
      events_(metrics),
      database_events_(metrics),
      scan_timer_(strand_),
      rng_(std::random_device{}()),
      // Polled only when the queue can keep what Ometria lists: each poll lists the same errors again, and only
      // the kept ones tell a new error from one seen before.
      errors_schedule_(queue.ometria_error_log() != nullptr ? options_.errors_poll_interval : milliseconds(0)),
      recent_pushes_(options_.errors_matched_records),
      error_events_(metrics),
      errors_url_(ometria::errors_endpoint_for(options_.endpoint)),
      errors_timer_(strand_),
      request_log_failures_(metrics),
      freshness_timer_(strand_),
      ownership_(queue.key_ownership()),
      ownership_events_(metrics),
      ownership_timer_(strand_) {
  options_.max_in_flight = std::max<std::size_t>(1, options_.max_in_flight);
  options_.max_records_per_push = std::clamp<std::size_t>(options_.max_records_per_push, 1, ometria::records_per_push);
}

// ---- plumbing ----

std::chrono::system_clock::time_point DeliveryService::Impl::wall_now() const {
  return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
}

queue::UnixMillis DeliveryService::Impl::wall_now_ms() const {
  return std::chrono::duration_cast<milliseconds>(wall_now().time_since_epoch()).count();
}

double DeliveryService::Impl::random01() {
  if (options_.random01) return options_.random01();
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

// A push counts as busy from send() until its queue update is done; stop() waits for busy_ to reach 0.
void DeliveryService::Impl::begin_busy() {
  std::lock_guard lock(busy_mutex_);
  ++busy_;
}

void DeliveryService::Impl::end_busy() {
  {
    std::lock_guard lock(busy_mutex_);
    --busy_;
  }
  busy_cv_.notify_all();
}

DeliveryService::Impl::Partition& DeliveryService::Impl::partition(const PartitionKey& key) {
  auto it = partitions_.find(key);
  if (it == partitions_.end()) it = partitions_.emplace(key, std::make_unique<Partition>(key, strand_)).first;
  return *it->second;
}

void DeliveryService::Impl::queue_depth_changed() {
  events_.emit(obs::QueueDepthSeen{queue_.depth()});
  const auto health = queue_.health();
  database_events_.emit(obs::QueueDatabaseSeen{health.state == queue::QueueHealth::State::ok, health.round_trips});
}

// ---- scanning for ready partitions ----

void DeliveryService::Impl::request_scan() {
  if (stopping_.load()) return;
  if (scanning_) {
    rescan_ = true;
    return;
  }
  const auto now = Steady::now();
  if (now < next_scan_allowed_) return schedule_scan_at(next_scan_allowed_);
  do_scan();
}

void DeliveryService::Impl::schedule_scan_at(Steady::time_point when) {
  if (stopping_.load() || when >= scan_timer_at_) return;
  scan_timer_at_ = when;
  const std::uint64_t generation = ++scan_timer_generation_;
  scan_timer_.expires_at(when);
  scan_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || self->scan_timer_generation_ != generation) return;
    self->scan_timer_at_ = Steady::time_point::max();
    self->request_scan();
  });
}

void DeliveryService::Impl::do_scan() {
  scanning_ = true;
  const auto started = Steady::now();
  on_queue<std::vector<queue::ReadyPartition>>(
      // As many due records as the pushers on_scan may start can take: a deeper count changes nothing.
      [count_up_to = max_pushers() * options_.max_records_per_push](
          queue::Queue& q, queue::Done<std::vector<queue::ReadyPartition>> done) {
        q.ready_partitions(count_up_to, std::move(done));
      },
      [started](const Self& self, Expected<std::vector<queue::ReadyPartition>> ready) {
        self->on_scan(started, std::move(ready));
      });
}

void DeliveryService::Impl::on_scan(Steady::time_point started, Expected<std::vector<queue::ReadyPartition>> ready) {
  scanning_ = false;
  const auto now = Steady::now();
  // Never more than the poll interval: a scan that waited (for a lock, a reconnect) would otherwise hold delivery
  // back four times as long once the database answers again.
  next_scan_allowed_ = now + std::clamp<Steady::duration>(4 * (now - started), milliseconds(2),
                                                          std::max<Steady::duration>(milliseconds(2), options_.poll_interval));
  queue_depth_changed();
  if (stopping_.load()) return;
  if (!ready) {
    // Once per run of failures: while the database is down every poll fails the same way (the queue tells the
    // outage itself), and the scans go on at the poll interval, each failing at once.
    if (!std::exchange(scan_failing_, true)) events_.emit(obs::ReadyPartitionsUnreadable{ready.error().message});
  } else {
    scan_failing_ = false;
    deferred_ = false;
    // Live partitions first, whatever order the queue lists them in: they are given the free room first.
    std::stable_partition(ready->begin(), ready->end(), [](const auto& r) { return r.lane == queue::Lane::live; });
    bool free_key = false;
    for (const auto& r : *ready) {
      if (!owns(r.api_key)) {  // another instance's, or not claimed yet
        free_key = free_key || unclaimed(r.api_key);
        continue;
      }
      // One pusher per full push's worth of due records, up to pushes_per_partition.
      const auto pushes = (r.ready + options_.max_records_per_push - 1) / options_.max_records_per_push;
      const auto pushers = std::clamp<std::uint64_t>(pushes, 1, max_pushers());
      for (unsigned pusher = 0; pusher < pushers; ++pusher)
        consider(partition(PartitionKey{r.api_key, r.type, r.lane, pusher}), now);
    }
    if (free_key) schedule_round_at(now);
  }
  if (rescan_) {
    rescan_ = false;
    request_scan();
  }
  schedule_scan_at(now + options_.poll_interval);
}

// A scan saw due records in p: lease them if p may push now.
void DeliveryService::Impl::consider(Partition& p, Steady::time_point now) {
  using Phase = Partition::Phase;
  if (p.phase == Phase::collecting && p.batch.size() < options_.max_records_per_push) {
    if (may_push(p)) start_lease(p);
    return;
  }
  if (p.phase != Phase::idle) return;
  const auto not_before = earliest_push(p);
  if (now < not_before) return schedule_scan_at(not_before);
  // Partitions holding leased records at once: enough to keep every slot busy, bounded for memory.
  if (!may_activate(p.key)) {
    deferred_ = true;  // scanned again when a partition goes idle
    return;
  }
  if (!may_push(p)) return;
  count_active(p, +1);
  start_lease(p);
}

Steady::time_point DeliveryService::Impl::earliest_push(const Partition& p) const {
  auto it = key_pause_.find(p.key.api_key);
  return it == key_pause_.end() ? p.not_before : std::max(p.not_before, it->second);
}

// ---- start and stop ----

void DeliveryService::Impl::start() {
  on_strand([](Impl& impl) {
    impl.start_errors_poll();
    impl.start_freshness();
    impl.start_ownership();
    impl.on_queue<std::vector<queue::HeldKey>>(
        [](queue::Queue& q, queue::Done<std::vector<queue::HeldKey>> done) { q.held_keys(std::move(done)); },
        [](const Self& self, Expected<std::vector<queue::HeldKey>> held) {
                    if (!held) self->events_.emit(obs::HeldKeysUnreadable{held.error().message});
                    else self->restore_holds(*held);
                    self->request_scan();
                  });
  });
}

void DeliveryService::Impl::notify() {
  if (stopping_.load() || notify_pending_.exchange(true)) return;
  on_strand([](Impl& self) {
    self.notify_pending_.store(false);
    self.request_scan();
  });
}

bool DeliveryService::Impl::stop(milliseconds deadline) {
  if (stopping_.exchange(true)) {
    std::lock_guard lock(stop_result_mutex_);
    return stop_result_;
  }
  begin_busy();  // until the strand has started giving back what is leased and not pushed (several instances)
  on_strand([](Impl& self) {
    self.scan_timer_.cancel();
    self.errors_timer_.cancel();
    self.freshness_timer_.cancel();
    self.ownership_timer_.cancel();
    for (auto& [key, p] : self.partitions_) p->timer.cancel();
    for (auto& [key, timer] : self.probe_timers_) timer->cancel();
    for (auto& waiting : self.waiting_for_slot_) waiting.clear();
    self.give_back_unpushed_on_stop();
    self.end_busy();
  });
  bool drained = false;
  {
    std::unique_lock lock(busy_mutex_);
    drained = busy_cv_.wait_for(lock, deadline, [this] { return busy_ == 0; });
  }
  // Whatever is still in flight keeps its record leases; the keys go to the others at their next round.
  resign_ownership(milliseconds(1000));
  {
    // From now on the queue's answers are dropped; one being posted has been posted before this returns.
    std::lock_guard lock(answers_->mutex);
    answers_->closed = true;
  }
  if (!drained) events_.emit(obs::DeliveryCutOff{});
  std::lock_guard lock(stop_result_mutex_);
  stop_result_ = drained;
  return drained;
}

// ---- DeliveryService ----

DeliveryService::DeliveryService(asio::io_context& io, queue::Queue& queue, delivery::Sender& sender,
                                 DeliveryOptions options, obs::Registry& metrics)
    : impl_(std::make_shared<Impl>(io, queue, sender, std::move(options), metrics)) {}

DeliveryService::~DeliveryService() { impl_->stop(milliseconds(0)); }

void DeliveryService::start() { impl_->start(); }
void DeliveryService::notify() { impl_->notify(); }
bool DeliveryService::stop(milliseconds deadline) { return impl_->stop(deadline); }

std::vector<HeldKeyStatus> DeliveryService::held_keys() const {
  std::lock_guard lock(impl_->snapshot_mutex_);
  return impl_->held_snapshot_;
}

FreshnessStatus DeliveryService::freshness() const {
  std::lock_guard lock(impl_->snapshot_mutex_);
  return impl_->freshness_snapshot_;
}

std::vector<OmetriaErrorsStatus> DeliveryService::ometria_errors() const {
  std::lock_guard lock(impl_->snapshot_mutex_);
  return impl_->errors_snapshot_;
}

DeliveryCounters DeliveryService::counters() const {
  DeliveryCounters c;
  c.pushes = impl_->pushes_.load();
  c.records_delivered = impl_->delivered_.load();
  c.records_retried = impl_->retried_.load();
  c.records_dead_lettered = impl_->dead_.load();
  std::lock_guard lock(impl_->busy_mutex_);
  c.in_flight = impl_->busy_;
  return c;
}

}  // namespace omt::service
