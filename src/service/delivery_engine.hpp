// Internal: the delivery engine behind DeliveryService, shared by the files that hold its three parts:
//   delivery_service.cpp     plumbing (strand, queue answers), scanning for ready partitions, start and stop;
//   delivery_partitions.cpp  a partition's lifecycle: lease -> linger -> push -> ack / reschedule / dead-letter;
//   delivery_holds.cpp       keys Ometria refused: holding, probing and releasing them;
//   delivery_ometria_errors.cpp  reading what Ometria rejected after a 2xx (GET /v2/push/_errors) per key;
//   delivery_request_log.cpp     every push's outcome, written to the queue's request log.
//   delivery_lanes.cpp       live before backfill: which lane of a key may take a token or a slot now;
//   delivery_freshness.cpp   how old the oldest undelivered live record is (metric and /health);
//   delivery_ownership.cpp   which keys this instance delivers when several share the queue (queue::KeyOwnership).
// The pure decisions are elsewhere: delivery::plan_after_push (what a push's answer leads to) and
// delivery::KeyHoldTable (who is held, which pusher may probe). What happens is told through obs::DeliveryEvents.
//
// Why it is shaped this way:
// - All engine state lives on one strand, so it needs no locks. The queue's operations are asynchronous: the
//   strand starts one (it is only queued) and its answer, on the queue's thread, is posted back to the strand;
//   no thread ever waits for a commit. Several pushes finishing together therefore queue their acks together
//   and share one group commit.
// - One push per partition at a time keeps a partition's records in order (Ometria merges records by id, so a
//   later update must not overtake an earlier one); different partitions push concurrently up to the cap.
// - A partition whose push was full leases again at once; otherwise new records are found by a scan of ready
//   partitions (after notify(), when a retry falls due, and every poll_interval). Scans cost the queue a
//   query over the due records, so they are spaced by a multiple of how long the last one took.
// - Records leased but not yet pushed are kept in memory while the partition lingers; leases expire only
//   long after the sender has given up, so a partition never sees its own records twice (ids are also
//   de-duplicated on top-up).
// - Live before backfill (queue::Lane): partitions are (key, type, lane), so each lane keeps its own order and
//   its own pushers. Per key, live records go first and the backfill gets only the rate budget live traffic
//   leaves: a backfill partition takes a token only when no live partition of its key is ready or waiting (leasing
//   or waiting for a token, a slot or a pause), and a live partition that stops waiting wakes the backfill it held
//   back. A live push therefore waits at most for the next token (1 / requests_per_second), never behind the
//   backlog. In-flight backfill pushes leave slots free for live ones (backfill_slots(): a quarter of
//   ometria.max_in_flight, at least one, is never taken by backfill; with max_in_flight 1 the one slot is shared),
//   live partitions waiting for a slot are served first, and backfill partitions hold at most half of the active
//   partitions, so a scan always finds room for live ones. A backfill batch held back longer than half its lease
//   is dropped from memory (its records come back when the lease ends, attempts untouched), so a lease never
//   runs out under a waiting batch. Scans list live partitions first. Held keys, probes and 429 pauses are per key
//   and apply to both lanes alike.
// - Several instances on one queue (queue::KeyOwnership): a key is pushed only by the instance that claims it, and
//   only while that claim is valid by this instance's clock (renewed every lease_timeout / 3), so the token bucket
//   of a key is one bucket across instances and a partition's order holds. may_push() says no for a key not owned;
//   a key given back stops after its in-flight push, and is given back in the database only once that is done.
//   A key taken over waits a second before its first push here (the old owner's pushes of the last second are
//   not known here), so the second around a handover holds the rate too.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "omt/delivery/key_holds.hpp"
#include "omt/delivery/ometria_errors.hpp"
#include "omt/delivery/push_plan.hpp"
#include "omt/delivery/rate_limiter.hpp"
#include "omt/delivery/sender.hpp"
#include "omt/obs/database_events.hpp"
#include "omt/obs/delivery_events.hpp"
#include "omt/obs/ometria_errors_events.hpp"
#include "omt/obs/ownership_events.hpp"
#include "omt/obs/request_log_events.hpp"
#include "omt/queue/key_ownership.hpp"
#include "omt/queue/queue.hpp"
#include "omt/service/delivery_service.hpp"

namespace omt::service {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A pusher of one (API key, type): each pusher pushes one batch at a time; several pushers of a busy partition push
// at once (DeliveryOptions::pushes_per_partition). Pushers lease disjoint records from the queue.
struct PartitionKey {
  std::string api_key;
  ometria::RecordType type = ometria::RecordType::contact;
  queue::Lane lane = queue::Lane::live;
  unsigned pusher = 0;
  auto operator<=>(const PartitionKey&) const = default;
  bool operator==(const PartitionKey&) const = default;
  delivery::Pusher pusher_of_key() const { return delivery::Pusher{type, pusher, lane == queue::Lane::backfill}; }
  bool live() const { return lane == queue::Lane::live; }
};

struct LeasedRecord {
  queue::RecordId id = 0;
  std::string json;  // one compact JSON object
  queue::Lane lane = queue::Lane::live;
};

// Tells the request log's failed writes (delivery_request_log.cpp). The queue tells them on its writer thread, maybe
// after the engine is gone: its callbacks share this state, and the engine's end detaches it (under the lock) while
// the metrics registry is still there.
class RequestLogFailures {
 public:
  explicit RequestLogFailures(obs::Registry& metrics) : state_(std::make_shared<State>(metrics)) {}
  ~RequestLogFailures();
  RequestLogFailures(const RequestLogFailures&) = delete;
  RequestLogFailures& operator=(const RequestLogFailures&) = delete;
  // For RequestLog::log_pushes: a failure is counted and logged for `pushes` pushes.
  std::function<void(const Error*)> on_done(std::size_t pushes) const;

 private:
  struct State {
    explicit State(obs::Registry& metrics) : events(std::in_place, metrics) {}
    std::mutex mutex;
    std::optional<obs::RequestLogEvents> events;  // empty once the engine is gone
  };
  std::shared_ptr<State> state_;
};

struct DeliveryService::Impl : std::enable_shared_from_this<Impl> {
  using Strand = asio::strand<asio::io_context::executor_type>;
  using Self = std::shared_ptr<Impl>;
  // Starts one queue update (an ack, a reschedule, ...) that answers how many records it changed.
  using QueueUpdate = std::function<void(queue::Queue&, queue::Done<std::size_t>)>;

  // Where the queue's answers go: the strand, until stop() closes this (under the lock, so that no answer is
  // being posted while it closes). Shared with the queue's callbacks, which may outlive the engine.
  struct QueueAnswers {
    std::mutex mutex;
    bool closed = false;
  };

  struct Partition {
    enum class Phase { idle, leasing, collecting, waiting, sending };
    Partition(PartitionKey k, const Strand& strand) : key(std::move(k)), timer(strand) {}
    PartitionKey key;
    Phase phase = Phase::idle;
    std::vector<LeasedRecord> batch;           // leased, in order
    std::unordered_set<queue::RecordId> ids;   // of batch: a top-up lease never adds a record twice
    std::uint32_t max_attempts = 0;            // the most failed pushes any record of batch has had
    bool more_due = false;                     // the last lease left due records behind: batch is as full as it gets
    queue::UnixMillis oldest_created_at = 0;
    asio::steady_timer timer;                  // linger, or waiting for a token
    std::uint64_t timer_generation = 0;        // a fire from an older arming is ignored
    Steady::time_point not_before{};           // backoff after a failed push
    bool queued_for_slot = false;
    bool behind_live = false;                  // backfill waiting for its key's live partitions (delivery_lanes.cpp)
    Steady::time_point behind_live_since{};
    bool busy_until_leased = false;            // a stop waits for this lease's answer, to give its records back
  };

  Impl(asio::io_context& io, queue::Queue& queue, delivery::Sender& sender, DeliveryOptions options,
       obs::Registry& metrics);

  // ---- plumbing (delivery_service.cpp) ----
  std::chrono::system_clock::time_point wall_now() const;
  queue::UnixMillis wall_now_ms() const;
  double random01();
  void begin_busy();
  void end_busy();
  Partition& partition(const PartitionKey& key);
  void queue_depth_changed();

  // Starts one queue operation, start(queue, done), and runs then(self, result) on the strand with its answer.
  // The queue answers on its own thread (or at once, on this one), and the answer is only posted from there. The
  // callback holds the engine only weakly: once closed, an answer is dropped (nothing runs), so a queue thread
  // never keeps the engine alive past its service, nor posts to a strand whose io_context may be gone.
  template <class T, class Start, class Then>
  void on_queue(Start start, Then then) {
    if (closed()) return;
    start(queue_, queue::Done<T>([answers = answers_, engine = weak_from_this(), then = std::move(then)](
                                     Expected<T> result) mutable {
      std::lock_guard lock(answers->mutex);
      if (answers->closed) return;
      Self self = engine.lock();  // open, so the service still holds the engine: this is never the last reference
      if (!self) return;
      Strand& strand = self->strand_;
      asio::post(strand, [self, then = std::move(then), result = std::move(result)]() mutable {
        then(self, std::move(result));
      });
    }));
  }
  bool closed() const {
    std::lock_guard lock(answers_->mutex);
    return answers_->closed;
  }

  template <class F>
  void on_strand(F f) {
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { f(*self); });
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

  // ---- scanning for ready partitions (delivery_service.cpp) ----
  void request_scan();
  void schedule_scan_at(Steady::time_point when);
  void do_scan();
  // The pushers a scan may start in one partition (delivery.pushes_per_partition, at least one).
  std::uint64_t max_pushers() const { return std::max<std::size_t>(1, options_.pushes_per_partition); }
  void on_scan(Steady::time_point started, Expected<std::vector<queue::ReadyPartition>> ready);
  void consider(Partition& p, Steady::time_point now);
  std::size_t max_active() const { return 2 * options_.max_in_flight + 4; }
  Steady::time_point earliest_push(const Partition& p) const;

  // ---- a partition's lifecycle (delivery_partitions.cpp) ----
  bool may_push(Partition& p);
  void start_lease(Partition& p);
  void on_leased(Partition& p, Expected<queue::Leased> leased);
  bool is_full(const Partition& p) const { return p.batch.size() >= options_.max_records_per_push || p.more_due; }
  void try_dispatch(Partition& p);
  void send(Partition& p);
  void on_pushed(Partition& p, Steady::time_point started, delivery::PushOutcome outcome);
  void tell(const Partition& p, const delivery::PushOutcome& outcome, const delivery::PushPlan& plan,
            Steady::duration took);
  void finish(Partition& p, QueueUpdate update, bool lease_again, const char* what);
  void drain_waiting();
  void clear_batch(Partition& p);
  void go_idle(Partition& p);
  void release(Partition& p);

  // ---- live before backfill (delivery_lanes.cpp) ----
  bool live_ahead(const std::string& api_key) const;
  bool may_take_token(Partition& p, Steady::time_point now);
  void wake_backfill(const Partition& live);
  bool has_slot(const Partition& p) const;
  std::size_t backfill_slots() const;
  bool may_activate(const PartitionKey& key) const;
  void count_active(const Partition& p, int change);

  // ---- freshness of the live lane (delivery_freshness.cpp) ----
  void start_freshness();
  void check_freshness();
  void on_freshness(Expected<queue::QueueStats> stats);

  // ---- held keys (delivery_holds.cpp) ----
  bool is_probe(const Partition& p) const { return holds_.is_probe(p.key.api_key, p.key.pusher_of_key()); }
  void clear_probe(const Partition& p) { holds_.clear_probe(p.key.api_key, p.key.pusher_of_key()); }
  void hold(const std::string& api_key, const std::string& reason, milliseconds probe_after);
  void arm_probe(const std::string& api_key, milliseconds after);
  void probe(const std::string& api_key);
  void end_hold(const std::string& api_key, delivery::PushPlan::HoldChange why);
  void restore_holds(const std::vector<queue::HeldKey>& held);
  void publish_holds();

  // ---- what Ometria rejected after a 2xx (delivery_ometria_errors.cpp) ----
  bool errors_poll_on() const { return errors_schedule_.enabled(); }
  void start_errors_poll();
  void remember_push(const Partition& p, const delivery::PushOutcome& outcome);
  void arm_errors_timer(Steady::time_point at);
  void poll_due_errors();
  void poll_errors(const std::string& api_key);
  void on_errors_answer(const std::string& api_key, delivery::PushOutcome outcome);
  void on_errors_stored(const std::string& api_key, const std::vector<delivery::SeenError>& fresh);
  void publish_error_summary();

  // ---- key ownership, several instances on one queue (delivery_ownership.cpp) ----
  bool owns(const std::string& api_key) const;
  // A scan saw due records of a key no live instance claims: a round sooner than the next renewal.
  bool unclaimed(const std::string& api_key) const;
  void start_ownership();
  void schedule_round_at(Steady::time_point when);
  void ownership_round();
  void on_ownership_round(Steady::time_point started, std::vector<std::string> gave_back,
                          Expected<queue::OwnedKeys> round);
  void stop_pushing_unowned();
  // Keys this instance claims as of its last round (owned or draining), whatever their claims' time.
  bool claims(const std::string& api_key) const;
  // Keys gained in a round may be held in the queue by the instance that had them: held here too, and probed.
  void adopt_holds(std::vector<std::string> gained);
  void resign_ownership(milliseconds deadline);
  // On a stop, several instances on one queue: records leased here and not pushed go back to the queue at once.
  void give_back_unpushed_on_stop();
  void give_back_on_stop(Partition& p);

  // ---- the request log (delivery_request_log.cpp) ----
  void log_push(const Partition& p, const delivery::PushOutcome& outcome, Steady::duration took);

  // ---- start and stop (delivery_service.cpp) ----
  void start();
  void notify();
  bool stop(milliseconds deadline);

  Strand strand_;
  std::shared_ptr<QueueAnswers> answers_ = std::make_shared<QueueAnswers>();
  queue::Queue& queue_;
  delivery::Sender& sender_;
  DeliveryOptions options_;
  delivery::KeyedRateLimiter limiter_;
  obs::DeliveryEvents events_;
  obs::DatabaseEvents database_events_;  // omt_queue_database_up, from queue_.health()

  // Strand only.
  std::map<PartitionKey, std::unique_ptr<Partition>> partitions_;
  delivery::KeyHoldTable holds_;
  std::map<std::string, std::shared_ptr<asio::steady_timer>> probe_timers_;  // by api key
  std::unordered_map<std::string, Steady::time_point> key_pause_;  // 429 / backlog pressure: the whole key waits
  std::deque<PartitionKey> waiting_for_slot_[2];  // by lane: live ones are given a slot first
  std::size_t sending_ = 0;
  std::size_t sending_backfill_ = 0;
  std::size_t active_ = 0;  // partitions not idle
  std::size_t active_backfill_ = 0;
  bool deferred_ = false;   // a scan left partitions out (too many active)
  asio::steady_timer scan_timer_;
  Steady::time_point scan_timer_at_ = Steady::time_point::max();
  std::uint64_t scan_timer_generation_ = 0;
  bool scanning_ = false;
  bool scan_failing_ = false;  // the last scan failed: a failing queue is told once, not every poll
  bool rescan_ = false;
  Steady::time_point next_scan_allowed_{};
  std::mt19937_64 rng_;

  std::atomic<bool> notify_pending_{false};
  std::atomic<bool> stopping_{false};
  std::mutex busy_mutex_;
  std::condition_variable busy_cv_;
  std::size_t busy_ = 0;
  std::mutex stop_result_mutex_;
  bool stop_result_ = true;

  // DeliveryService::counters().
  std::atomic<std::uint64_t> pushes_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> dead_{0};

  // What Ometria rejected after a 2xx. Strand only, but for the snapshot.
  delivery::ErrorPollSchedule errors_schedule_;
  delivery::RecentPushes recent_pushes_;
  obs::OmetriaErrorEvents error_events_;
  std::string errors_url_;
  asio::steady_timer errors_timer_;
  Steady::time_point errors_timer_at_ = Steady::time_point::max();
  std::uint64_t errors_timer_generation_ = 0;
  std::map<std::string, OmetriaErrorsStatus> error_summary_;  // by api key
  RequestLogFailures request_log_failures_;

  // Freshness: checked every freshness_interval on its own timer; the snapshot for /health.
  asio::steady_timer freshness_timer_;
  std::set<std::string> freshness_sources_;  // sources given a gauge so far (set to 0 once nothing waits)

  // Key ownership (strand only); ownership_ nullptr: a queue of one instance, which owns every key.
  queue::KeyOwnership* ownership_ = nullptr;
  obs::OwnershipEvents ownership_events_;
  std::set<std::string> owned_;              // claimed and pushed by this instance
  std::set<std::string> draining_;           // claimed, over the share: no new pushes; given back once idle
  std::set<std::string> claimed_by_others_;  // as of the last round
  Steady::time_point owned_until_{};         // the claims' end by this clock, unless a round renews them
  asio::steady_timer ownership_timer_;
  Steady::time_point ownership_timer_at_ = Steady::time_point::max();
  std::uint64_t ownership_timer_generation_ = 0;
  bool round_running_ = false;
  bool round_wanted_ = false;               // asked for while one ran
  Steady::time_point last_round_started_{};
  std::vector<std::string> holds_to_adopt_;  // gained keys whose holds could not be read yet (the next round tries)

  mutable std::mutex snapshot_mutex_;
  FreshnessStatus freshness_snapshot_;
  std::vector<HeldKeyStatus> held_snapshot_;
  std::vector<OmetriaErrorsStatus> errors_snapshot_;
};

}  // namespace omt::service
