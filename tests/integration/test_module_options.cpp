// The module options built from the configuration (service/module_options): each takes what the configuration
// says, and a default Config gives each module its own defaults, so the defaults have one home.
#include <gtest/gtest.h>

#include "omt/queue/postgres_queue.hpp"
#include "omt/service/module_options.hpp"

namespace {

using namespace std::chrono_literals;
using omt::config::Config;

TEST(ModuleOptions, DefaultsAreTheConfigurationsDefaults) {
  const Config config;
  const auto sender = omt::service::sender_options(config);
  const omt::net::SenderOptions sender_defaults;
  EXPECT_EQ(sender.connect_timeout, sender_defaults.connect_timeout);
  EXPECT_EQ(sender.handshake_timeout, sender_defaults.handshake_timeout);
  EXPECT_EQ(sender.response_timeout, sender_defaults.response_timeout);
  EXPECT_EQ(sender.max_in_flight, sender_defaults.max_in_flight);
  EXPECT_EQ(sender.max_idle_per_host, sender_defaults.max_idle_per_host);

  const auto delivery = omt::service::delivery_options(config);
  const omt::service::DeliveryOptions delivery_defaults;
  EXPECT_EQ(delivery.endpoint, delivery_defaults.endpoint);
  EXPECT_EQ(delivery.endpoint, omt::ometria::push_endpoint);
  EXPECT_EQ(delivery.linger, delivery_defaults.linger);
  EXPECT_EQ(delivery.max_in_flight, delivery_defaults.max_in_flight);
  EXPECT_EQ(delivery.pushes_per_partition, delivery_defaults.pushes_per_partition);
  EXPECT_EQ(delivery.errors_poll_interval, delivery_defaults.errors_poll_interval);
  EXPECT_TRUE(delivery.errors_poll_keys.empty());
  EXPECT_EQ(delivery.max_records_per_push, omt::ometria::records_per_push);

  const auto ingest = omt::service::ingest_limits(config);
  const omt::protocol::IngestLimits ingest_defaults;
  EXPECT_EQ(ingest.max_events_per_request, ingest_defaults.max_events_per_request);
  EXPECT_EQ(ingest.retry_after_seconds, ingest_defaults.retry_after_seconds);
  EXPECT_EQ(ingest.slow_down_from, ingest_defaults.slow_down_from);
  EXPECT_EQ(ingest.max_slow_down, ingest_defaults.max_slow_down);
  EXPECT_EQ(ingest.max_decoded_body_bytes, ingest_defaults.max_decoded_body_bytes);
}

TEST(ModuleOptions, EachTakesWhatTheConfigurationSays) {
  Config config;
  config.ometria.endpoint = "http://127.0.0.1:1/v2/push";
  config.ometria.connect_timeout = 1s;
  config.ometria.handshake_timeout = 2s;
  config.ometria.response_timeout = 3s;
  config.ometria.max_in_flight = 7;
  config.ometria.allow_plain_http = true;
  config.ometria.extra_ca_file = "/tmp/ca.pem";
  config.delivery.linger = 50ms;
  config.delivery.pushes_per_partition = 3;
  config.delivery.errors_poll_interval = 90s;
  for (const char* key : {"key-1", "key-2", "key-1"}) {
    omt::config::SourceConfig source;
    source.destination.api_key = key;
    config.sources.push_back(source);
  }
  config.delivery.retry.max_attempts = 9;
  config.ingest.slow_down_from = 42;
  config.ingest.max_slow_down = 250ms;
  config.ingest.max_events_per_request = 12;
  config.server.limits.max_body_bytes = 1234;
  config.queue.path = "/tmp/q.db";
  config.queue.durability = "normal";
  config.queue.high_water_mark = 77;

  const auto sender = omt::service::sender_options(config);
  EXPECT_EQ(sender.connect_timeout, 1s);
  EXPECT_EQ(sender.handshake_timeout, 2s);
  EXPECT_EQ(sender.response_timeout, 3s);
  EXPECT_EQ(sender.max_in_flight, 7u);
  EXPECT_EQ(sender.max_idle_per_host, 7u);
  EXPECT_TRUE(sender.allow_plain_http);
  EXPECT_EQ(sender.extra_ca_file, "/tmp/ca.pem");

  const auto delivery = omt::service::delivery_options(config);
  EXPECT_EQ(delivery.endpoint, "http://127.0.0.1:1/v2/push");
  EXPECT_EQ(delivery.linger, 50ms);
  EXPECT_EQ(delivery.pushes_per_partition, 3u);
  EXPECT_EQ(delivery.errors_poll_interval, 90s);
  EXPECT_EQ(delivery.errors_poll_keys, (std::vector<std::string>{"key-1", "key-2"}));  // each key polled once
  EXPECT_EQ(delivery.max_in_flight, 7u);
  EXPECT_EQ(delivery.retry.max_attempts, 9u);
  EXPECT_GE(delivery.lease_for, 4 * (1s + 2s + 3s + 50ms));  // a lease outlives every push of its records

  const auto ingest = omt::service::ingest_limits(config);
  EXPECT_EQ(ingest.slow_down_from, 42u);
  EXPECT_EQ(ingest.max_slow_down, 250ms);
  EXPECT_EQ(ingest.max_events_per_request, 12u);
  EXPECT_EQ(ingest.max_decoded_body_bytes, 1234u);

  const auto queue = omt::service::queue_options(config);
  EXPECT_EQ(queue.path, "/tmp/q.db");
  EXPECT_EQ(queue.durability, omt::queue::Durability::process_crash);
  EXPECT_EQ(queue.high_water_mark, 77u);
}

// queue.statement_timeout and queue.lease_timeout reach the PostgreSQL queue (which sets the timeout on every
// connection it opens, reconnects included: test_queue_postgres.cpp).
TEST(ModuleOptions, ThePostgresQueueTakesItsTimeoutsFromTheConfiguration) {
  Config config;
  EXPECT_EQ(omt::service::postgres_queue_options(config).statement_timeout, 10s);
  EXPECT_EQ(omt::service::postgres_queue_options(config).statement_timeout,
            omt::queue::PostgresQueueOptions{}.statement_timeout);
  config.queue.backend = "postgres";
  config.queue.url = "postgresql://omt@db/omt";
  config.queue.statement_timeout = 750ms;
  config.queue.lease_timeout = 4s;
  const auto o = omt::service::postgres_queue_options(config);
  EXPECT_EQ(o.url, "postgresql://omt@db/omt");
  EXPECT_EQ(o.statement_timeout, 750ms);
  EXPECT_EQ(o.lease_timeout, 4s);
}

}  // namespace
