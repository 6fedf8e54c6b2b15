// The delivery engine's partition lifecycle (lease -> push -> ack / reschedule / dead-letter / hold) with the
// fake sender and an in-memory queue: no SQLite, no sockets. The engine runs on an io_context thread of the test's.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <thread>

#include "delivery_harness.hpp"
#include "memory_queue.hpp"
#include "omt/delivery/fake_sender.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/service/delivery_service.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using delivery::FakeSender;
using delivery::NetworkError;
using ometria::RecordType;

const std::string kKey = "lifecycle-key";

service::DeliveryOptions lifecycle_options() {
  service::DeliveryOptions o;
  o.endpoint = "https://ometria.invalid/v2/push";
  o.linger = 5ms;
  o.rate_limit.requests_per_second = 0;  // unlimited
  o.retry.base_delay = 10ms;
  o.retry.max_delay = 20ms;
  o.retry.hold_probe_interval = 100ms;
  o.poll_interval = 20ms;
  o.random01 = [] { return 0.5; };
  return o;
}

class Lifecycle : public ::testing::Test {
 protected:
  void start(service::DeliveryOptions options = lifecycle_options()) {
    service_.emplace(io_, queue_, sender_, std::move(options), metrics_);
    thread_ = std::thread([this] { io_.run(); });
    service_->start();
  }
  void TearDown() override {
    if (service_) service_->stop(2s);
    service_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  void enqueue(RecordType type, int n) {
    std::vector<queue::NewRecord> records;
    for (int i = 0; i < n; ++i) records.push_back(make_record(kKey, type, i));
    ASSERT_TRUE(queue_.enqueue(std::move(records)).get());
  }
  // Records in every push the sender saw, in order.
  std::vector<std::size_t> push_sizes() const {
    std::vector<std::size_t> sizes;
    for (const auto& r : sender_.requests()) sizes.push_back(nlohmann::json::parse(r.body).size());
    return sizes;
  }

  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{io_.get_executor()};
  MemoryQueue queue_;
  FakeSender sender_;
  obs::Registry metrics_;
  std::optional<service::DeliveryService> service_;
  std::thread thread_;
};

TEST_F(Lifecycle, LeasesPushesAtMostAHundredAndAcks) {
  enqueue(RecordType::contact, 250);
  enqueue(RecordType::order, 3);
  start();
  ASSERT_TRUE(eventually([&] { return queue_.depth() == 0; })) << queue_.depth();
  EXPECT_EQ(queue_.acked(), 253u);
  auto sizes = push_sizes();
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 50, 100, 100}));
  for (const auto& r : sender_.requests()) {
    EXPECT_EQ(r.url, "https://ometria.invalid/v2/push");
    EXPECT_EQ(r.api_key, kKey);
  }
  ASSERT_TRUE(eventually([&] { return service_->counters().records_delivered == 253; }));
}

TEST_F(Lifecycle, AFailedPushIsRescheduledAndDeliveredLater) {
  sender_.script(FakeSender::status(503));
  sender_.fail_call(2, NetworkError::reset);
  enqueue(RecordType::contact, 2);
  start();
  ASSERT_TRUE(eventually([&] { return queue_.depth() == 0; })) << queue_.depth();
  EXPECT_EQ(sender_.calls(), 3u);  // 503, reset, then the default 202
  const auto c = service_->counters();
  EXPECT_EQ(c.records_retried, 4u);
  EXPECT_EQ(c.records_delivered, 2u);
}

TEST_F(Lifecycle, ARefusedPayloadIsDeadLettered) {
  sender_.script(FakeSender::status(400));
  enqueue(RecordType::order, 2);
  start();
  ASSERT_TRUE(eventually([&] { return queue_.depth() == 0; })) << queue_.depth();
  const auto dead = queue_.dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_NE((*dead)[0].reason.find("HTTP 400"), std::string::npos) << (*dead)[0].reason;
  EXPECT_EQ(queue_.acked(), 0u);
}

TEST_F(Lifecycle, ARefusedKeyIsHeldThenProbedAndReleased) {
  sender_.script(FakeSender::status(401));
  enqueue(RecordType::contact, 3);
  start();
  ASSERT_TRUE(eventually([&] { return !service_->held_keys().empty(); }));
  EXPECT_EQ(service_->held_keys()[0].key_fingerprint, obs::key_fingerprint(kKey));
  // The hold is written to the queue just after delivery holds the key in memory (and the probe may already
  // have released it when a slow machine gets here): wait for the write, not for a moment between the two.
  ASSERT_TRUE(eventually([&] { return queue_.holds() == 1u; })) << queue_.holds();
  const auto dead = queue_.dead_letters({});
  ASSERT_TRUE(dead);
  EXPECT_TRUE(dead->empty());  // kept, not dropped
  // The probe (after 100 ms) is answered 202: the key flows again, with all three records.
  ASSERT_TRUE(eventually([&] { return queue_.depth() == 0; })) << queue_.depth();
  ASSERT_TRUE(eventually([&] { return service_->held_keys().empty(); }));
  EXPECT_EQ(service_->counters().records_delivered, 3u);
  EXPECT_EQ(sender_.calls(), 2u);
}

TEST_F(Lifecycle, StopLeavesUnpushedRecordsQueued) {
  sender_.hold_completions(true);
  enqueue(RecordType::contact, 5);
  start();
  ASSERT_TRUE(eventually([&] { return sender_.held() == 1; }));
  EXPECT_FALSE(service_->stop(50ms));  // the push in flight is cut off
  EXPECT_EQ(queue_.depth(), 5u);
  EXPECT_EQ(queue_.acked(), 0u);
  while (sender_.complete_next()) {
  }
}

}  // namespace
}  // namespace omt::test
