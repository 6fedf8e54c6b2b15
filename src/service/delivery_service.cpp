// The delivery engine. Why it is shaped this way:
// - All engine state lives on one strand, so it needs no locks; the queue's calls block (they wait for the
//   writer's commit), so they run on a small thread pool and post their result back to the strand. Several
//   pushes finishing together therefore ack from several threads at once and share one group commit.
// - One push per partition at a time keeps a partition's records in order (Ometria merges records by id, so a
//   later update must not overtake an earlier one); different partitions push concurrently up to the cap.
// - A partition whose push was full leases again at once; otherwise new records are found by a scan of ready
//   partitions (after notify(), when a retry falls due, and every poll_interval). Scans cost the queue a
//   query over the due records, so they are spaced by a multiple of how long the last one took.
// - Records leased but not yet pushed are kept in memory while the partition lingers; leases expire only
//   long after the sender has given up, so a partition never sees its own records twice (ids are also
//   de-duplicated on top-up).
#include "omt/service/delivery_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "omt/config/config.hpp"
#include "omt/delivery/sender.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/queue/queue.hpp"

namespace omt::service {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Action = delivery::Decision::Action;

// A lane of one (API key, type): each lane pushes one batch at a time; several lanes of a busy partition push
// at once (DeliveryOptions::pushes_per_partition). Lanes lease disjoint records from the queue.
struct PartitionKey {
  std::string api_key;
  ometria::RecordType type = ometria::RecordType::contact;
  unsigned lane = 0;
  auto operator<=>(const PartitionKey&) const = default;
  bool operator==(const PartitionKey&) const = default;
};

struct LeasedRecord {
  queue::RecordId id = 0;
  std::string json;  // one compact JSON object
};

namespace {

std::string status_label(const delivery::PushOutcome& outcome) {
  if (!outcome.has_answer()) return std::string(delivery::to_string(*outcome.network_error));
  return std::to_string(outcome.answer.status);
}

std::string_view outcome_label(Action action) {
  switch (action) {
    case Action::delivered: return "delivered";
    case Action::retry: return "retry";
    case Action::dead_letter: return "dead_letter";
    case Action::hold_key: return "hold";
  }
  return "unknown";
}

// Ometria's request id is not user data, but it is text from the network: bounded and redacted like any.
std::string loggable(std::string_view text) {
  return obs::redact_pii(text.substr(0, 128));
}

}  // namespace

struct DeliveryService::Impl : std::enable_shared_from_this<Impl> {
  using Strand = asio::strand<asio::io_context::executor_type>;

  struct Partition {
    enum class Phase { idle, leasing, collecting, waiting, sending };
    Partition(PartitionKey k, const Strand& strand) : key(std::move(k)), timer(strand) {}
    PartitionKey key;
    Phase phase = Phase::idle;
    std::vector<LeasedRecord> batch;          // leased, in order
    std::unordered_set<queue::RecordId> ids;   // of batch: a top-up lease never adds a record twice
    std::uint32_t max_attempts = 0;            // the most failed pushes any record of batch has had
    bool more_due = false;                     // the last lease left due records behind: batch is as full as it gets
    queue::UnixMillis oldest_created_at = 0;
    asio::steady_timer timer;                  // linger, or waiting for a token
    std::uint64_t timer_generation = 0;        // a fire from an older arming is ignored
    Steady::time_point not_before{};           // backoff after a failed push
    bool queued_for_slot = false;
  };

  struct Hold {
    std::string reason;
    queue::UnixMillis held_at = 0;
    bool probing = false;                 // unheld in the queue; one partition may push as the probe
    std::optional<PartitionKey> probe;    // the partition (lane) carrying the probe
    std::shared_ptr<asio::steady_timer> timer;
  };

  Impl(asio::io_context& io, queue::Queue& queue, delivery::Sender& sender, DeliveryOptions options,
       obs::Registry& metrics)
      : strand_(asio::make_strand(io)),
        pool_(std::max<std::size_t>(1, options.queue_threads)),
        queue_(queue),
        sender_(sender),
        options_(std::move(options)),
        limiter_(options_.rate_limit),
        scan_timer_(strand_),
        rng_(std::random_device{}()),
        metrics_(metrics),
        depth_gauge_(metrics.gauge("omt_queue_depth", "Records waiting in the durable queue")),
        held_gauge_(metrics.gauge("omt_delivery_held_keys", "API keys Ometria refused (401/403) whose records are held")),
        in_flight_gauge_(metrics.gauge("omt_delivery_in_flight", "Pushes to Ometria in flight")),
        latency_(metrics.histogram("omt_delivery_push_seconds", "Time from sending a push to its answer",
                                   obs::latency_buckets_seconds())),
        delivered_records_(records_counter("delivered")),
        retried_records_(records_counter("retry")),
        dead_records_(records_counter("dead_letter")),
        rejected_records_(records_counter("rejected_by_ometria")) {
    options_.max_in_flight = std::max<std::size_t>(1, options_.max_in_flight);
    options_.max_records_per_push = std::clamp<std::size_t>(options_.max_records_per_push, 1, ometria::records_per_push);
  }

  obs::Counter& records_counter(std::string_view outcome) {
    return metrics_.counter("omt_delivery_records_total",
                            "Records by what became of them (rejected_by_ometria: counted by Ometria's answer)",
                            {{"outcome", std::string(outcome)}});
  }

  // ---- plumbing ----

  std::chrono::system_clock::time_point wall_now() const {
    return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
  }
  queue::UnixMillis wall_now_ms() const {
    return std::chrono::duration_cast<milliseconds>(wall_now().time_since_epoch()).count();
  }
  double random01() {
    if (options_.random01) return options_.random01();
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }

  // Runs `work(queue)` on the pool, then `done(result)` on the strand. Nothing runs once closed.
  template <class Work, class Done>
  void on_queue(Work work, Done done) {
    if (closed_.load()) return;
    asio::post(pool_, [self = shared_from_this(), work = std::move(work), done = std::move(done)]() mutable {
      if (self->closed_.load()) return;
      auto result = work(self->queue_);
      asio::post(self->strand_, [self, result = std::move(result), done = std::move(done)]() mutable {
        done(std::move(result));
      });
    });
  }

  template <class F>
  void on_strand(F f) {
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { f(*self); });
  }

  // A push counts as busy from send() until its queue update is done; stop() waits for busy_ to reach 0.
  void begin_busy() {
    std::lock_guard lock(busy_mutex_);
    ++busy_;
  }
  void end_busy() {
    {
      std::lock_guard lock(busy_mutex_);
      --busy_;
    }
    busy_cv_.notify_all();
  }

  Partition& partition(const PartitionKey& key) {
    auto it = partitions_.find(key);
    if (it == partitions_.end()) it = partitions_.emplace(key, std::make_unique<Partition>(key, strand_)).first;
    return *it->second;
  }

  template <class F>
  void arm_timer(Partition& p, Steady::duration after, F on_fire) {
    const std::uint64_t generation = ++p.timer_generation;
    p.timer.expires_after(after);
    p.timer.async_wait([self = shared_from_this(), key = p.key, generation, on_fire = std::move(on_fire)](
                           const boost::system::error_code& ec) mutable {
      if (ec || self->stopping_.load()) return;
      Partition& q = self->partition(key);
      if (q.timer_generation != generation) return;
      on_fire(*self, q);
    });
  }

  // ---- scanning for ready partitions ----

  void request_scan() {
    if (stopping_.load()) return;
    if (scanning_) {
      rescan_ = true;
      return;
    }
    const auto now = Steady::now();
    if (now < next_scan_allowed_) return schedule_scan_at(next_scan_allowed_);
    do_scan();
  }

  void schedule_scan_at(Steady::time_point when) {
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

  void do_scan() {
    scanning_ = true;
    const auto started = Steady::now();
    on_queue([](queue::Queue& q) { return q.ready_partitions(); },
             [self = shared_from_this(), started](Expected<std::vector<queue::ReadyPartition>> ready) {
               self->on_scan(started, std::move(ready));
             });
  }

  void on_scan(Steady::time_point started, Expected<std::vector<queue::ReadyPartition>> ready) {
    scanning_ = false;
    const auto now = Steady::now();
    next_scan_allowed_ = now + std::max<Steady::duration>(milliseconds(2), 4 * (now - started));
    depth_gauge_.set(static_cast<std::int64_t>(queue_.depth()));
    if (stopping_.load()) return;
    if (!ready) {
      spdlog::error("delivery: cannot list ready partitions: {}", ready.error().message);
    } else {
      deferred_ = false;
      for (const auto& r : *ready) {
        // One lane per full push's worth of due records, up to pushes_per_partition.
        const auto pushes = (r.ready + options_.max_records_per_push - 1) / options_.max_records_per_push;
        const auto lanes = std::clamp<std::uint64_t>(pushes, 1, std::max<std::size_t>(1, options_.pushes_per_partition));
        for (unsigned lane = 0; lane < lanes; ++lane) consider(partition(PartitionKey{r.api_key, r.type, lane}), now);
      }
    }
    if (rescan_) {
      rescan_ = false;
      request_scan();
    }
    schedule_scan_at(now + options_.poll_interval);
  }

  // A scan saw due records in p: lease them if p may push now.
  void consider(Partition& p, Steady::time_point now) {
    using Phase = Partition::Phase;
    if (p.phase == Phase::collecting && p.batch.size() < options_.max_records_per_push) {
      if (may_push(p)) start_lease(p);
      return;
    }
    if (p.phase != Phase::idle) return;
    const auto not_before = earliest_push(p);
    if (now < not_before) return schedule_scan_at(not_before);
    if (active_ >= max_active()) {
      deferred_ = true;  // scanned again when a partition goes idle
      return;
    }
    if (!may_push(p)) return;
    ++active_;
    start_lease(p);
  }

  // Partitions holding leased records at once: enough to keep every slot busy, bounded for memory.
  std::size_t max_active() const { return 2 * options_.max_in_flight + 4; }

  Steady::time_point earliest_push(const Partition& p) const {
    auto it = key_pause_.find(p.key.api_key);
    return it == key_pause_.end() ? p.not_before : std::max(p.not_before, it->second);
  }

  // A held key pushes nothing, except one partition carrying the probe once the probe time has come.
  bool may_push(Partition& p) {
    auto it = holds_.find(p.key.api_key);
    if (it == holds_.end()) return true;
    Hold& hold = it->second;
    if (!hold.probing) return false;
    if (hold.probe && *hold.probe != p.key) return false;
    hold.probe = p.key;
    return true;
  }

  // ---- leasing and lingering ----

  void start_lease(Partition& p) {
    p.phase = Partition::Phase::leasing;
    const std::size_t want = options_.max_records_per_push - p.batch.size();
    on_queue(
        [key = p.key, want, lease_for = options_.lease_for](queue::Queue& q) {
          return q.lease(key.api_key, key.type, want, lease_for);
        },
        [self = shared_from_this(), key = p.key](Expected<queue::Leased> leased) {
          self->on_leased(self->partition(key), std::move(leased));
        });
  }

  void on_leased(Partition& p, Expected<queue::Leased> leased) {
    if (!leased) {
      spdlog::error("delivery: cannot lease records of {} {}: {}", obs::key_fingerprint(p.key.api_key),
                    ometria::to_string(p.key.type), leased.error().message);
    } else {
      p.more_due = leased->more_due;
      for (auto& r : leased->records) {
        if (!p.ids.insert(r.id).second) continue;
        if (p.batch.empty() || r.created_at < p.oldest_created_at) p.oldest_created_at = r.created_at;
        p.max_attempts = std::max(p.max_attempts, r.attempts);
        p.batch.push_back(LeasedRecord{r.id, std::move(r.json)});
      }
    }
    if (stopping_.load()) return;  // leased records stay in the queue; their leases end with the process
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
    arm_timer(p, options_.linger - lingered, [](Impl& self, Partition& q) {
      // The linger is over: take whatever else arrived, then push.
      if (q.phase == Partition::Phase::collecting) self.start_lease(q);
    });
  }

  bool is_full(const Partition& p) const { return p.batch.size() >= options_.max_records_per_push || p.more_due; }

  // ---- pushing ----

  void try_dispatch(Partition& p) {
    if (p.phase != Partition::Phase::waiting || stopping_.load()) return;
    if (!may_push(p)) return release(p);
    const auto now = Steady::now();
    if (const auto pause = earliest_push(p); now < pause) {
      return arm_timer(p, pause - now, [](Impl& self, Partition& q) { self.try_dispatch(q); });
    }
    if (sending_ >= options_.max_in_flight) {
      if (!p.queued_for_slot) {
        p.queued_for_slot = true;
        waiting_for_slot_.push_back(p.key);
      }
      return;
    }
    if (!limiter_.try_acquire(p.key.api_key, now)) {
      const auto wait = std::max<Steady::duration>(limiter_.wait_time(p.key.api_key, now), milliseconds(1));
      return arm_timer(p, wait, [](Impl& self, Partition& q) { self.try_dispatch(q); });
    }
    send(p);
  }

  void send(Partition& p) {
    p.phase = Partition::Phase::sending;
    ++sending_;
    in_flight_gauge_.set(static_cast<std::int64_t>(sending_));
    begin_busy();
    std::vector<std::string_view> records;
    records.reserve(p.batch.size());
    for (const auto& r : p.batch) records.push_back(r.json);
    delivery::PushRequest request{options_.endpoint, p.key.api_key, ometria::push_body(records)};
    const auto started = Steady::now();
    sender_.send(std::move(request), [self = shared_from_this(), key = p.key, started](delivery::PushOutcome result) mutable {
      asio::post(self->strand_, [self, key = std::move(key), started, result = std::move(result)]() mutable {
        self->on_pushed(self->partition(key), started, std::move(result));
      });
    });
  }

  void on_pushed(Partition& p, Steady::time_point started, delivery::PushOutcome result) {
    --sending_;
    in_flight_gauge_.set(static_cast<std::int64_t>(sending_));
    const auto now = Steady::now();
    latency_.observe(std::chrono::duration<double>(now - started).count());
    pushes_.fetch_add(1, std::memory_order_relaxed);
    if (closed_.load()) return end_busy();

    const auto decision = delivery::decide(result, p.max_attempts + 1, options_.retry, random01(), wall_now());
    const std::string status = status_label(result);
    push_counter(decision.action, status).inc();
    const std::string fingerprint = obs::key_fingerprint(p.key.api_key);
    const auto type = ometria::to_string(p.key.type);
    const std::size_t count = p.batch.size();
    const bool full = is_full(p);
    const auto took_ms = std::chrono::duration_cast<milliseconds>(now - started).count();
    const bool was_probe = is_probe(p);
    std::vector<queue::RecordId> ids;
    ids.reserve(count);
    for (const auto& r : p.batch) ids.push_back(r.id);

    switch (decision.action) {
      case Action::delivered: {
        const auto& body = result.answer.receipt;
        const auto accepted = body && body->accepted ? std::to_string(*body->accepted) : std::string("?");
        const auto rejected = body && body->rejected ? *body->rejected : 0;
        spdlog::info("push delivered: key {} type {} records {} status {} request_id {} accepted {} rejected {} in {} ms",
                     fingerprint, type, count, status, body ? loggable(body->request_id) : std::string("?"), accepted,
                     rejected, took_ms);
        if (rejected > 0) {
          // Ometria validates asynchronously; the same records would be rejected again, so they are not retried.
          spdlog::warn("push: Ometria counted {} of {} {} records of key {} as rejected (see GET /v2/push/_errors)",
                       rejected, count, type, fingerprint);
          rejected_records_.inc(static_cast<std::uint64_t>(rejected));
        }
        if (decision.delay.count() > 0) {
          key_pause_[p.key.api_key] = now + decision.delay;
          spdlog::warn("push: Ometria's backlog for key {} is nearly full; pausing its pushes for {} ms", fingerprint,
                       decision.delay.count());
        }
        if (was_probe) {
          holds_.erase(p.key.api_key);
          publish_holds();
          spdlog::warn("delivery: Ometria accepts key {} again; its held records flow", fingerprint);
          request_scan();
        }
        delivered_.fetch_add(count, std::memory_order_relaxed);
        delivered_records_.inc(count);
        finish(p, [ids = std::move(ids)](queue::Queue& q) { return q.ack(ids); },
               full && decision.delay.count() == 0, "ack");
        break;
      }
      case Action::retry: {
        spdlog::warn("push failed: key {} type {} records {} status {} ({}{}); retry in {} ms (attempt {})",
                     fingerprint, type, count, status, decision.reason,
                     result.error_detail.empty() ? std::string() : ": " + result.error_detail, decision.delay.count(),
                     p.max_attempts + 1);
        p.not_before = now + decision.delay;
        if (result.has_answer() && result.answer.status == 429) {
          key_pause_[p.key.api_key] = now + decision.delay;  // the rate limit is the account's, not the type's
        }
        if (was_probe) end_hold_after_probe(p.key.api_key, fingerprint);
        retried_.fetch_add(count, std::memory_order_relaxed);
        retried_records_.inc(count);
        schedule_scan_at(now + decision.delay);
        finish(p, [ids = std::move(ids), delay = decision.delay](queue::Queue& q) { return q.reschedule(ids, delay); },
               false, "reschedule");
        break;
      }
      case Action::dead_letter: {
        spdlog::error("push refused: key {} type {} records {} status {}; moved to the dead-letter store: {}",
                      fingerprint, type, count, status, decision.reason);
        if (was_probe) end_hold_after_probe(p.key.api_key, fingerprint);
        dead_.fetch_add(count, std::memory_order_relaxed);
        dead_records_.inc(count);
        finish(p, [ids = std::move(ids), reason = decision.reason](queue::Queue& q) { return q.dead_letter(ids, reason); },
               full, "dead-letter");
        break;
      }
      case Action::hold_key: {
        hold(p.key.api_key, decision.reason, decision.delay);
        finish(p,
               [ids = std::move(ids), key = p.key.api_key, reason = decision.reason](queue::Queue& q) -> Expected<std::size_t> {
                 if (auto held = q.hold_key(key, reason); !held) return tl::unexpected(held.error());
                 return q.reschedule(ids, milliseconds(0));  // back in the queue, untouched until the key is released
               },
               false, "hold");
        break;
      }
    }
    drain_waiting();
  }

  obs::Counter& push_counter(Action action, const std::string& status) {
    auto key = std::make_pair(action, status);
    auto it = push_counters_.find(key);
    if (it == push_counters_.end()) {
      auto& counter = metrics_.counter("omt_delivery_pushes_total", "Pushes to Ometria by outcome and status",
                                       {{"outcome", std::string(outcome_label(action))}, {"status", status}});
      it = push_counters_.emplace(std::move(key), &counter).first;
    }
    return *it->second;
  }

  // Applies the queue update of a finished push, then frees the partition or leases again. A partition that
  // leases again does so at once, beside its update: the pushed records stay leased until the update is done,
  // so the new lease cannot hand them out again, and the partition need not wait for a commit between pushes.
  template <class Update>
  void finish(Partition& p, Update update, bool lease_again, const char* what) {
    const bool overlapped = lease_again && !stopping_.load() && may_push(p);
    if (overlapped) {
      clear_batch(p);
      start_lease(p);
    }
    on_queue(std::move(update), [self = shared_from_this(), key = p.key, lease_again, overlapped, what](Expected<std::size_t> done) {
      if (!done) {
        // The records stay leased until their lease ends, then they are pushed again (at-least-once).
        spdlog::error("delivery: queue {} failed for {} {}: {}", what, obs::key_fingerprint(key.api_key),
                      ometria::to_string(key.type), done.error().message);
      }
      self->depth_gauge_.set(static_cast<std::int64_t>(self->queue_.depth()));
      self->end_busy();
      if (overlapped) return;
      Partition& q = self->partition(key);
      self->clear_batch(q);
      if (self->stopping_.load()) return;
      if (lease_again && self->may_push(q)) return self->start_lease(q);
      self->go_idle(q);
    });
  }

  void drain_waiting() {
    while (sending_ < options_.max_in_flight && !waiting_for_slot_.empty()) {
      Partition& p = partition(waiting_for_slot_.front());
      waiting_for_slot_.pop_front();
      p.queued_for_slot = false;
      try_dispatch(p);
    }
  }

  void clear_batch(Partition& p) {
    p.batch.clear();
    p.ids.clear();
    p.max_attempts = 0;
    p.more_due = false;
    p.oldest_created_at = 0;
  }

  void go_idle(Partition& p) {
    if (p.phase != Partition::Phase::idle) {
      p.phase = Partition::Phase::idle;
      if (active_ > 0) --active_;
    }
    ++p.timer_generation;
    if (deferred_) request_scan();
  }

  // Gives leased records back without pushing them (their key is held): due again, for after the release.
  void release(Partition& p) {
    clear_probe(p);
    if (!p.batch.empty()) {
      std::vector<queue::RecordId> ids;
      for (const auto& r : p.batch) ids.push_back(r.id);
      on_queue([ids = std::move(ids)](queue::Queue& q) { return q.reschedule(ids, milliseconds(0)); },
               [](Expected<std::size_t> done) {
                 if (!done) spdlog::error("delivery: cannot release records of a held key: {}", done.error().message);
               });
    }
    clear_batch(p);
    go_idle(p);
  }

  // ---- held keys ----

  bool is_probe(const Partition& p) const {
    auto it = holds_.find(p.key.api_key);
    return it != holds_.end() && it->second.probing && it->second.probe == p.key;
  }

  void clear_probe(const Partition& p) {
    auto it = holds_.find(p.key.api_key);
    if (it != holds_.end() && it->second.probe == p.key) it->second.probe.reset();
  }

  void hold(const std::string& api_key, const std::string& reason, milliseconds probe_after) {
    const std::string fingerprint = obs::key_fingerprint(api_key);
    Hold& h = holds_[api_key];
    const bool was_held = !h.reason.empty() && !h.probing;
    if (!was_held) {
      spdlog::warn("delivery: Ometria refused key {} ({}): holding its records (kept in the queue, not dropped); "
                   "probing again in {} ms. Other keys keep flowing. Check the key in the configuration.",
                   fingerprint, reason, probe_after.count());
      h.reason = reason;
      h.held_at = wall_now_ms();
      h.probing = false;
      h.probe.reset();
      arm_probe(api_key, h, probe_after);
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

  void arm_probe(const std::string& api_key, Hold& h, milliseconds after) {
    if (!h.timer) h.timer = std::make_shared<asio::steady_timer>(strand_);
    h.timer->expires_after(after);
    h.timer->async_wait([self = shared_from_this(), api_key](const boost::system::error_code& ec) {
      if (ec || self->stopping_.load()) return;
      self->probe(api_key);
    });
  }

  void probe(const std::string& api_key) {
    auto it = holds_.find(api_key);
    if (it == holds_.end() || it->second.probing) return;
    on_queue([api_key](queue::Queue& q) { return q.unhold_key(api_key); },
             [self = shared_from_this(), api_key](Expected<void> unheld) {
               auto h = self->holds_.find(api_key);
               if (h == self->holds_.end()) return;
               if (!unheld) {
                 spdlog::error("delivery: cannot release key {} for a probe: {}", obs::key_fingerprint(api_key),
                               unheld.error().message);
                 return self->arm_probe(api_key, h->second, self->options_.retry.hold_probe_interval);
               }
               h->second.probing = true;
               h->second.probe.reset();
               self->publish_holds();
               spdlog::info("delivery: probing key {} with one push", obs::key_fingerprint(api_key));
               self->next_scan_allowed_ = Steady::time_point{};
               self->request_scan();
             });
  }

  // The probe got an answer other than 401/403: the key itself is no longer refused.
  void end_hold_after_probe(const std::string& api_key, const std::string& fingerprint) {
    holds_.erase(api_key);
    publish_holds();
    spdlog::warn("delivery: Ometria no longer refuses key {}; its held records flow", fingerprint);
    request_scan();
  }

  void publish_holds() {
    std::vector<HeldKeyStatus> snapshot;
    for (const auto& [key, h] : holds_) {
      snapshot.push_back(HeldKeyStatus{obs::key_fingerprint(key), h.reason, h.held_at, h.probing});
      key_gauge(key).set(1);
    }
    for (auto& [key, gauge] : key_gauges_) {
      if (!holds_.contains(key)) gauge->set(0);
    }
    held_gauge_.set(static_cast<std::int64_t>(snapshot.size()));
    std::lock_guard lock(snapshot_mutex_);
    held_snapshot_ = std::move(snapshot);
  }

  obs::Gauge& key_gauge(const std::string& api_key) {
    auto it = key_gauges_.find(api_key);
    if (it == key_gauges_.end()) {
      auto& gauge = metrics_.gauge("omt_delivery_key_held", "1 while Ometria refuses this key (by fingerprint)",
                                   {{"key", obs::key_fingerprint(api_key)}});
      it = key_gauges_.emplace(api_key, &gauge).first;
    }
    return *it->second;
  }

  // ---- start and stop ----

  void start() {
    on_strand([](Impl& self) {
      self.on_queue([](queue::Queue& q) { return q.held_keys(); },
                    [self = self.shared_from_this()](Expected<std::vector<queue::HeldKey>> held) {
                      if (!held) {
                        spdlog::error("delivery: cannot read the held keys: {}", held.error().message);
                      } else {
                        const auto now = self->wall_now_ms();
                        for (const auto& k : *held) {
                          Hold& h = self->holds_[k.api_key];
                          h.reason = k.reason;
                          h.held_at = k.held_at;
                          const auto due = k.held_at + self->options_.retry.hold_probe_interval.count();
                          spdlog::warn("delivery: key {} is held ({}) since a previous run; probing it in {} ms",
                                       obs::key_fingerprint(k.api_key), k.reason, std::max<std::int64_t>(0, due - now));
                          self->arm_probe(k.api_key, h, milliseconds(std::max<std::int64_t>(0, due - now)));
                        }
                        self->publish_holds();
                      }
                      self->request_scan();
                    });
    });
  }

  void notify() {
    if (stopping_.load() || notify_pending_.exchange(true)) return;
    on_strand([](Impl& self) {
      self.notify_pending_.store(false);
      self.request_scan();
    });
  }

  bool stop(milliseconds deadline) {
    if (stopping_.exchange(true)) {
      std::lock_guard lock(stop_result_mutex_);
      return stop_result_;
    }
    on_strand([](Impl& self) {
      self.scan_timer_.cancel();
      for (auto& [key, p] : self.partitions_) p->timer.cancel();
      for (auto& [key, h] : self.holds_) {
        if (h.timer) h.timer->cancel();
      }
      self.waiting_for_slot_.clear();
    });
    bool drained = false;
    {
      std::unique_lock lock(busy_mutex_);
      drained = busy_cv_.wait_for(lock, deadline, [this] { return busy_ == 0; });
    }
    closed_.store(true);
    // join, not stop: tasks still queued see closed_ and return at once, and none is left holding this object.
    pool_.join();
    if (!drained) spdlog::warn("delivery: stopped with pushes in flight; their records stay queued and go again");
    std::lock_guard lock(stop_result_mutex_);
    stop_result_ = drained;
    return drained;
  }

  Strand strand_;
  asio::thread_pool pool_;
  queue::Queue& queue_;
  delivery::Sender& sender_;
  DeliveryOptions options_;
  delivery::KeyedRateLimiter limiter_;

  // Strand only.
  std::map<PartitionKey, std::unique_ptr<Partition>> partitions_;
  std::map<std::string, Hold> holds_;
  std::unordered_map<std::string, Steady::time_point> key_pause_;  // 429 / backlog pressure: the whole key waits
  std::deque<PartitionKey> waiting_for_slot_;
  std::size_t sending_ = 0;
  std::size_t active_ = 0;  // partitions not idle
  bool deferred_ = false;   // a scan left partitions out (too many active)
  asio::steady_timer scan_timer_;
  Steady::time_point scan_timer_at_ = Steady::time_point::max();
  std::uint64_t scan_timer_generation_ = 0;
  bool scanning_ = false;
  bool rescan_ = false;
  Steady::time_point next_scan_allowed_{};
  std::mt19937_64 rng_;
  std::map<std::pair<Action, std::string>, obs::Counter*> push_counters_;
  std::map<std::string, obs::Gauge*> key_gauges_;

  std::atomic<bool> notify_pending_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closed_{false};
  std::mutex busy_mutex_;
  std::condition_variable busy_cv_;
  std::size_t busy_ = 0;
  std::mutex stop_result_mutex_;
  bool stop_result_ = true;

  obs::Registry& metrics_;
  obs::Gauge& depth_gauge_;
  obs::Gauge& held_gauge_;
  obs::Gauge& in_flight_gauge_;
  obs::Histogram& latency_;
  obs::Counter& delivered_records_;
  obs::Counter& retried_records_;
  obs::Counter& dead_records_;
  obs::Counter& rejected_records_;
  std::atomic<std::uint64_t> pushes_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> dead_{0};

  mutable std::mutex snapshot_mutex_;
  std::vector<HeldKeyStatus> held_snapshot_;
};

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
