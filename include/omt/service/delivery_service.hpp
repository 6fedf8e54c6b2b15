// The delivery engine: moves records from the durable queue to Ometria's push API. Partitions (api key, type)
// are leased up to 100 records at a time, sent when full or once their oldest record has lingered, within a
// token bucket per key and a global cap on pushes in flight; each answer goes through delivery::decide() and ends
// in ack, reschedule, dead-letter or a held key (401/403, probed again later). Records leave the queue only by
// ack or dead-letter, so a stop or a crash at any moment leaves every unacked record queued (at-least-once).
// Per key, live records go before backfill (queue::Lane), which gets only the rate budget live traffic leaves.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "omt/config/config.hpp"
#include "omt/delivery/rate_limiter.hpp"
#include "omt/delivery/retry_policy.hpp"
#include "omt/ometria/push_api.hpp"

namespace boost::asio {
class io_context;
}
namespace omt::delivery {
class Sender;
}
namespace omt::obs {
class Registry;
}
namespace omt::queue {
class Queue;
}

namespace omt::service {

// Built from the configuration by service::delivery_options; the defaults are the configuration's.
struct DeliveryOptions {
  std::string endpoint = config::OmetriaConfig{}.endpoint;
  std::size_t max_records_per_push = ometria::records_per_push;  // at most Ometria's limit
  // Pushes of one (API key, type) on the wire at once. 1 keeps that partition's records in order; more lets a
  // backlog drain faster when the rate limit allows (bulk imports, catching up after an outage).
  std::size_t pushes_per_partition = config::DeliveryConfig{}.pushes_per_partition;
  // A partial batch waits this long after its oldest record was stored.
  std::chrono::milliseconds linger = config::DeliveryConfig{}.linger;
  delivery::RateLimit rate_limit;           // per API key; requests_per_second <= 0: unlimited
  delivery::RetryConfig retry;
  std::size_t max_in_flight = config::OmetriaConfig{}.max_in_flight;  // pushes on the wire at once, all keys
  // How long leased records stay invisible to further leases: far longer than a push can take (the sender times
  // out first); leases live in memory, so after a restart every unacked record is due again at once.
  std::chrono::milliseconds lease_for{std::chrono::minutes(5)};
  // Look for ready partitions at least this often even without notify() (records whose retry fell due are
  // also woken by a timer of their own; this is the safety net).
  std::chrono::milliseconds poll_interval{1000};
  // GET /v2/push/_errors of each key this often (0: never; also never when the queue keeps no errors): the keys
  // of errors_poll_keys (the configured sources') and every key delivery pushes to. Each poll takes a token of
  // the key's rate limit like a push. The record ids of recent pushes kept for matching errors to records:
  std::chrono::milliseconds errors_poll_interval = config::DeliveryConfig{}.errors_poll_interval;
  std::vector<std::string> errors_poll_keys;
  std::size_t errors_matched_records = 100'000;
  // The sources of each key: api key -> the names of the sources with that key ("web", "web, app"), as the
  // request log and the freshness metric name them. A key not in it has no source (an old key).
  std::map<std::string, std::string> key_sources;
  // Freshness of the live lane: how old its oldest undelivered record is, looked at this often (metric
  // omt_queue_oldest_live_record_age_seconds by source); older than freshness_warning, /health is "degraded".
  std::chrono::milliseconds freshness_warning = config::DeliveryConfig{}.freshness_warning;
  std::chrono::milliseconds freshness_interval{5000};
  // Tests may pin these; empty: std::chrono::system_clock and a seeded std::mt19937_64.
  std::function<std::chrono::system_clock::time_point()> wall_clock;
  std::function<double()> random01;
};

// A key Ometria refused (401/403): its records stay queued, untouched, until a probe push succeeds.
struct HeldKeyStatus {
  std::string key_fingerprint;  // obs::key_fingerprint, never the key
  std::string reason;           // "HTTP 401"
  std::int64_t held_at_unix_ms = 0;
  bool probing = false;         // the probe push is under way (or waiting for records)
};

// Errors Ometria listed for a key after accepting its pushes (GET /v2/push/_errors), as kept in the queue.
struct OmetriaErrorsStatus {
  std::string key_fingerprint;  // obs::key_fingerprint, never the key
  std::uint64_t errors = 0;
  std::int64_t latest_new_at_unix_ms = 0;  // when the latest new one was seen
};

// The oldest undelivered live record, per source, as the last freshness check found it. Past four hours Ometria
// ignores an event for automations (OMETRIA_RECORDS.md), so a live record this old is a silent loss.
struct FreshnessStatus {
  struct Source {
    std::string source;
    std::int64_t oldest_created_at_unix_ms = 0;
  };
  bool checked = false;        // a check has run
  std::vector<Source> sources;  // those with live records waiting, oldest first
  std::chrono::milliseconds warning{0};
};

struct DeliveryCounters {
  std::uint64_t pushes = 0;
  std::uint64_t records_delivered = 0;  // not counting those a 2xx receipt counted as rejected
  std::uint64_t records_retried = 0;
  std::uint64_t records_dead_lettered = 0;
  std::size_t in_flight = 0;
};

class DeliveryService {
 public:
  // Runs on `io` (any number of threads may run it: the engine's state lives on a strand). The sender's
  // completions may arrive on any thread. Metrics are registered in `metrics` (omt_delivery_*, omt_queue_depth).
  // Nothing happens before start().
  DeliveryService(boost::asio::io_context& io, queue::Queue& queue, delivery::Sender& sender, DeliveryOptions options,
                  obs::Registry& metrics);
  // stop(0) if still running. Stop order for the owner: stop(), destroy this, destroy the sender, stop the io.
  ~DeliveryService();
  DeliveryService(const DeliveryService&) = delete;
  DeliveryService& operator=(const DeliveryService&) = delete;

  // Loads the held keys (probes them again after hold_probe_interval) and starts looking for ready partitions.
  void start();
  // New records are durable: look for ready partitions soon. Cheap and thread-safe (ingest calls it per enqueue).
  void notify();
  // Stops leasing, waits up to `deadline` for pushes in flight and their queue updates, then lets go: records
  // not acked stay in the queue. True when nothing was cut off. Thread-safe; later calls return at once.
  bool stop(std::chrono::milliseconds deadline);

  // Thread-safe snapshots (for /health and tests).
  std::vector<HeldKeyStatus> held_keys() const;
  std::vector<OmetriaErrorsStatus> ometria_errors() const;  // by fingerprint; empty while the poll is off
  FreshnessStatus freshness() const;
  DeliveryCounters counters() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace omt::service
