// The ingest routes on a real server (127.0.0.1 port 0) over a real SqliteQueue in a temporary directory, for the
// ingest integration tests: two sources ("web": write key wk-web, webhook token tok-web, key-web, browser origin
// https://shop.example; "app": wk-app, key-app, no browser origin), event builders, and a read of the queue file
// afresh to see what a 200 promised.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "fake_ometria.hpp"
#include "omt/net/delayed_calls.hpp"
#include "omt/net/ingest_routes.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "test_server.hpp"

namespace omt::test::ingest {

using namespace std::chrono_literals;
using nlohmann::json;
using omt::queue::QueuedRecord;
using omt::queue::RecordType;
using omt::test::basic_auth;
using omt::test::Headers;
using omt::test::HttpResponse;

inline const Headers kWebBasic = {{"Authorization", basic_auth("wk-web")}, {"Content-Type", "application/json"}};
inline const Headers kWebBearer = {{"Authorization", "Bearer tok-web"}, {"Content-Type", "application/json"}};

inline json identify(int n) {
  return {{"type", "identify"},
          {"userId", "u" + std::to_string(n)},
          {"context", {{"traits", {{"email", "user" + std::to_string(n) + "@example.com"}, {"listingId", "l" + std::to_string(n)}}}}}};
}

inline json custom_event(int n) {
  return {{"type", "track"},
          {"event", "Viewed Thing"},
          {"userId", "u" + std::to_string(n)},
          {"messageId", "m" + std::to_string(n)},
          {"originalTimestamp", "2024-05-01T10:00:00Z"},
          {"context", {{"traits", {{"email", "user@example.com"}}}}}};
}

// The arrival time every test server stamps on events (IngestContext::clock), so that records are reproducible.
inline const std::chrono::system_clock::time_point kArrival = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
    std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} + std::chrono::hours(10) + std::chrono::milliseconds(5678));

// What the test server's gateway stamp makes of an event from the "web" source over loopback (no proxy).
inline omt::protocol::Arrival loopback_arrival(std::string source = "web") {
  return omt::protocol::Arrival{kArrival, "127.0.0.1", "", std::move(source)};
}

inline std::vector<omt::config::SourceConfig> sources() {
  omt::config::SourceConfig web;
  web.name = "web";
  web.write_key = "wk-web";
  web.webhook_token = "tok-web";
  web.destination.api_key = "key-web";
  web.destination.collection = "web-shop";
  web.allowed_origins = {"https://shop.example"};
  omt::config::SourceConfig app;
  app.name = "app";
  app.write_key = "wk-app";
  app.destination.api_key = "key-app";
  return {web, app};
}

// A server with the ingest routes and, unless told otherwise, a SqliteQueue in a temporary directory.
class IngestTest : public ::testing::Test {
 protected:
  void start(bool with_queue = true, std::uint64_t high_water_mark = 1'000'000, omt::protocol::IngestLimits limits = {},
             omt::queue::Queue* queue_override = nullptr) {
    if (with_queue && queue_override == nullptr) open_queue(high_water_mark);
    omt::net::Router router;
    omt::net::register_ingest_routes(
        router, omt::net::IngestContext{.transformer = omt::test::load_transformer(),
                                        .queue = queue_override ? queue_override : queue_.get(),
                                        .sources = sources_,
                                        .limits = limits,
                                        .notify = [this] { notified_.fetch_add(1); },
                                        .metrics = &metrics_,
                                        .run_later = [this](std::chrono::milliseconds delay, std::function<void()> call) {
                                          delayed_calls_.after(delay, std::move(call));
                                        },
                                        .trusted_proxies = trusted_proxies_,
                                        .clock = [] { return kArrival; }});
    server_ = std::make_unique<omt::test::TestServer>(omt::test::test_server_config(), std::move(router));
  }

  void open_queue(std::uint64_t high_water_mark, bool create = true) {
    omt::queue::SqliteQueueOptions options;
    options.path = queue_path();
    options.durability = omt::queue::Durability::process_crash;
    options.high_water_mark = high_water_mark;
    options.max_rejected_events = max_rejected_events_;
    options.create_if_missing = create;
    auto opened = omt::queue::SqliteQueue::open(options);
    ASSERT_TRUE(opened) << opened.error().message;
    queue_ = std::move(*opened);
  }

  // Stops the server, closes the queue and opens its file afresh: what a 200 promised must be in it.
  std::vector<QueuedRecord> records_in_queue_file() {
    stop_server_and_queue();
    open_queue(1'000'000, /*create=*/false);
    std::vector<QueuedRecord> all;
    auto partitions = queue_->ready_partitions();
    EXPECT_TRUE(partitions);
    for (const auto& p : *partitions) {
      auto leased = queue_->lease(p.api_key, p.type, 100'000, 60s);
      EXPECT_TRUE(leased);
      all.insert(all.end(), leased->records.begin(), leased->records.end());
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return all;
  }

  // The same for the rejected events kept for replay, oldest first.
  std::vector<omt::queue::RejectedEvent> rejected_events_in_queue_file() {
    stop_server_and_queue();
    open_queue(1'000'000, /*create=*/false);
    auto events = queue_->rejected_events({});
    EXPECT_TRUE(events);
    return events ? *events : std::vector<omt::queue::RejectedEvent>{};
  }

  // The server stops taking requests, then the queue closes (its writer answers and lets go of whatever it
  // still holds of a connection), then the server and its metrics go: in that order nothing outlives what it uses.
  void stop_server_and_queue() {
    if (server_) server_->server->shutdown(std::chrono::seconds(5));
    queue_.reset();
    server_.reset();
  }

  HttpResponse post(const std::string& target, const std::string& body, const Headers& headers) {
    return server_->client().post(target, body, headers);
  }

  std::string queue_path() const { return dir_.file("queue.db"); }

  std::vector<omt::ip::Network> trusted_proxies_;  // set before start()
  std::vector<omt::config::SourceConfig> sources_ = sources();  // a test may set a source's settings before start()
  omt::testing::TempDir dir_;
  omt::obs::Registry metrics_;
  omt::net::DelayedCalls delayed_calls_;  // outlives the queue and the server below
  std::unique_ptr<omt::test::TestServer> server_;
  std::unique_ptr<omt::queue::SqliteQueue> queue_;  // after server_: destroyed before it
  std::atomic<int> notified_{0};
  std::uint64_t max_rejected_events_ = omt::config::QueueConfig{}.max_rejected_events;  // set before start()
};

}  // namespace omt::test::ingest
