#include "omt/service/module_options.hpp"

#include <algorithm>

#include "omt/service/key_sources.hpp"

namespace omt::service {

net::SenderOptions sender_options(const config::Config& config) {
  const config::OmetriaConfig& ometria = config.ometria;
  net::SenderOptions o;
  o.connect_timeout = ometria.connect_timeout;
  o.handshake_timeout = ometria.handshake_timeout;
  o.response_timeout = ometria.response_timeout;
  o.max_in_flight = ometria.max_in_flight;
  o.max_idle_per_host = ometria.max_in_flight;
  o.allow_plain_http = ometria.allow_plain_http;
  o.extra_ca_file = ometria.extra_ca_file.string();
  return o;
}

DeliveryOptions delivery_options(const config::Config& config) {
  DeliveryOptions o;
  o.endpoint = config.ometria.endpoint;
  o.linger = config.delivery.linger;
  o.rate_limit = config.delivery.rate_limit;
  o.retry = config.delivery.retry;
  o.max_in_flight = config.ometria.max_in_flight;
  o.pushes_per_partition = config.delivery.pushes_per_partition;
  o.errors_poll_interval = config.delivery.errors_poll_interval;
  o.freshness_warning = config.delivery.freshness_warning;
  for (const auto& source : config.sources) {
    const auto& key = source.destination.api_key;
    if (std::find(o.errors_poll_keys.begin(), o.errors_poll_keys.end(), key) == o.errors_poll_keys.end()) {
      o.errors_poll_keys.push_back(key);
    }
    if (!o.key_sources.contains(key)) o.key_sources.emplace(key, describe_key_sources(sources_with_key(config.sources, key)));
  }
  // A lease must outlive every push of its records: all of the sender's timeouts, with room to spare.
  const auto push_bound = config.ometria.connect_timeout + config.ometria.handshake_timeout +
                          config.ometria.response_timeout + config.delivery.linger;
  o.lease_for = std::max<std::chrono::milliseconds>(o.lease_for, 4 * push_bound);
  return o;
}

protocol::IngestLimits ingest_limits(const config::Config& config) {
  protocol::IngestLimits limits;
  limits.max_events_per_request = config.ingest.max_events_per_request;
  limits.retry_after_seconds = static_cast<std::uint32_t>(config.ingest.retry_after.count());
  limits.slow_down_from = config.ingest.slow_down_from;
  limits.max_slow_down = config.ingest.max_slow_down;
  limits.max_decoded_body_bytes = config.server.limits.max_body_bytes;
  return limits;
}

queue::SqliteQueueOptions queue_options(const config::Config& config) {
  queue::SqliteQueueOptions o;
  o.path = config.queue.path;
  o.durability = config.queue.durability == "normal" ? queue::Durability::process_crash : queue::Durability::power_loss;
  o.high_water_mark = config.queue.high_water_mark;
  o.max_rejected_events = config.queue.max_rejected_events;
  o.max_request_log = config.queue.max_request_log;
  return o;
}

queue::PostgresQueueOptions postgres_queue_options(const config::Config& config) {
  queue::PostgresQueueOptions o;
  o.url = config.queue.url;
  o.high_water_mark = config.queue.high_water_mark;
  o.max_rejected_events = config.queue.max_rejected_events;
  o.max_request_log = config.queue.max_request_log;
  o.lease_timeout = config.queue.lease_timeout;
  o.statement_timeout = config.queue.statement_timeout;
  return o;
}

}  // namespace omt::service
