// Helpers for the delivery tests: records to enqueue, a DeliveryService on its own io thread with the real HTTPS
// sender, time-compressed options, and bounded waits. Header-only, for tests/integration/test_delivery_*.cpp.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_ometria.hpp"
#include "omt/net/https_sender.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "omt/service/delivery_service.hpp"

namespace omt::test {

using namespace std::chrono_literals;

inline constexpr auto kWait = std::chrono::seconds(20);  // upper bound for anything expected to happen

// A record of `type` whose id names its key and type: "<key>/<type>/<n>", so a record on the wrong key shows.
inline queue::NewRecord make_record(const std::string& key, ometria::RecordType type, int n) {
  const std::string type_name(ometria::to_string(type));
  const std::string id = key + "/" + type_name + "/" + std::to_string(n);
  std::string json = R"({"@type":")" + type_name + R"(","id":")" + id + R"(")";
  if (type == ometria::RecordType::contact) json += R"(,"email":"person)" + std::to_string(n) + R"(@example.com")";
  if (type == ometria::RecordType::custom_event) json += R"(,"event_type":"viewed","identity_email":"a@example.com")";
  if (type == ometria::RecordType::order) json += R"(,"status":"complete","currency":"GBP","grand_total":12.5)";
  json += "}";
  return queue::NewRecord{key, type, std::move(json)};
}

// Enqueues `count` records of (key, type) in chunks; returns their ids.
inline std::set<std::string> enqueue_records(queue::Queue& queue, const std::string& key, ometria::RecordType type,
                                             int count, int first = 0) {
  std::set<std::string> ids;
  std::vector<queue::NewRecord> chunk;
  for (int n = first; n < first + count; ++n) {
    chunk.push_back(make_record(key, type, n));
    ids.insert(key + "/" + std::string(ometria::to_string(type)) + "/" + std::to_string(n));
    if (chunk.size() == 500 || n + 1 == first + count) {
      auto stored = queue.enqueue(std::move(chunk)).get();
      EXPECT_TRUE(stored.has_value()) << (stored ? "" : stored.error().message);
      chunk.clear();
    }
  }
  return ids;
}

inline std::unique_ptr<queue::SqliteQueue> open_queue(const std::string& path) {
  queue::SqliteQueueOptions options;
  options.path = path;
  options.durability = queue::Durability::process_crash;
  auto opened = queue::SqliteQueue::open(std::move(options));
  if (!opened) throw std::runtime_error(opened.error().message);
  return std::move(*opened);
}

// Time-compressed delivery: 20 ms linger and base delay, probes after 300 ms, no rate limit.
inline service::DeliveryOptions fast_options(const std::string& endpoint) {
  service::DeliveryOptions o;
  o.endpoint = endpoint;
  o.linger = 20ms;
  o.rate_limit.requests_per_second = 0;
  o.retry.base_delay = 20ms;
  o.retry.max_delay = 200ms;
  o.retry.max_retry_after = 60ms;
  o.retry.hold_probe_interval = 300ms;
  o.max_in_flight = 8;
  o.poll_interval = 100ms;
  o.lease_for = 60s;
  return o;
}

inline net::SenderOptions test_sender_options(const std::string& ca_file) {
  net::SenderOptions o;
  o.connect_timeout = 2s;
  o.handshake_timeout = 2s;
  o.response_timeout = 2s;
  o.extra_ca_file = ca_file;
  return o;
}

// A DeliveryService with the real HTTPS sender on one io thread.
class DeliveryEngine {
 public:
  DeliveryEngine(queue::Queue& queue, net::SenderOptions sender_options, service::DeliveryOptions options) {
    sender_ = net::make_https_sender(io_, std::move(sender_options));
    service_ = std::make_unique<service::DeliveryService>(io_, queue, *sender_, std::move(options), metrics_);
    thread_ = std::thread([this] { io_.run(); });
    service_->start();
  }
  ~DeliveryEngine() { stop(5s); }
  DeliveryEngine(const DeliveryEngine&) = delete;
  DeliveryEngine& operator=(const DeliveryEngine&) = delete;

  service::DeliveryService& service() { return *service_; }
  obs::Registry& metrics() { return metrics_; }

  bool stop(std::chrono::milliseconds deadline) {
    if (!thread_.joinable()) return drained_;
    drained_ = service_->stop(deadline);
    sender_.reset();  // aborts what is left; completions run on the io thread
    work_.reset();
    thread_.join();
    return drained_;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  obs::Registry metrics_;
  std::unique_ptr<delivery::Sender> sender_;
  std::unique_ptr<service::DeliveryService> service_;
  std::thread thread_;
  bool drained_ = true;
};

// Polls `condition` (something with no condition variable to wait on, like the queue's depth) until it holds
// or `timeout` passes.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Waits until the fake holds `count` distinct record ids (duplicates from retries allowed).
inline bool wait_for_distinct_ids(const testing::FakeOmetria& fake, std::size_t count,
                                  std::chrono::milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto records = fake.records();
    std::set<std::string> ids;
    for (const auto& r : records) ids.insert(r.id);
    if (ids.size() >= count) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // Some ids are duplicates: wait for at least one more record to arrive.
    fake.wait_for_records(records.size() + 1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
  }
}

inline std::set<std::string> distinct_ids(const std::vector<testing::ReceivedRecord>& records) {
  std::set<std::string> ids;
  for (const auto& r : records) ids.insert(r.id);
  return ids;
}

}  // namespace omt::test
