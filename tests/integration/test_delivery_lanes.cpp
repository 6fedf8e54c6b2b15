// The delivery engine's rule for lanes (delivery_engine.hpp, "Live before backfill"), with the fake sender and the
// in-memory queue: a live record of a key is pushed at the next token however much backfill waits, backfill
// pushes in flight leave a slot for it, the backfill keeps its order and uses what live traffic leaves.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <thread>

#include "delivery_harness.hpp"
#include "memory_queue.hpp"
#include "omt/delivery/fake_sender.hpp"
#include "omt/obs/delivery_events.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/service/delivery_service.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using delivery::FakeSender;
using ometria::RecordType;
using queue::Lane;

const std::string kKey = "lanes-key";

service::DeliveryOptions lanes_options() {
  service::DeliveryOptions o;
  o.endpoint = "https://ometria.invalid/v2/push";
  o.linger = 5ms;
  o.rate_limit.requests_per_second = 20;
  o.rate_limit.burst = 1;
  o.retry.base_delay = 10ms;
  o.retry.max_delay = 20ms;
  o.poll_interval = 20ms;
  o.random01 = [] { return 0.5; };
  return o;
}

class DeliveryLanes : public ::testing::Test {
 protected:
  void start(service::DeliveryOptions options = lanes_options()) {
    service_.emplace(io_, queue_, sender_, std::move(options), metrics_);
    thread_ = std::thread([this] { io_.run(); });
    service_->start();
  }
  void TearDown() override {
    sender_.hold_completions(false);
    while (sender_.complete_next()) {
    }
    if (service_) service_->stop(2s);
    service_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  void enqueue(Lane lane, RecordType type, int n, int first = 0) {
    std::vector<queue::NewRecord> records;
    for (int i = first; i < first + n; ++i) {
      records.push_back(make_record(kKey, type, i));
      records.back().lane = lane;
    }
    ASSERT_TRUE(queue_.enqueue(std::move(records)).get());
  }
  // The record ids of each push the sender saw, in order.
  std::vector<std::vector<std::string>> pushed_ids() const {
    std::vector<std::vector<std::string>> pushes;
    for (const auto& r : sender_.requests()) {
      std::vector<std::string> ids;
      for (const auto& record : nlohmann::json::parse(r.body)) ids.push_back(record.at("id").get<std::string>());
      pushes.push_back(std::move(ids));
    }
    return pushes;
  }
  // The index of the first push carrying an id of `type`, or -1.
  int first_push_of(RecordType type) const {
    const std::string prefix = kKey + "/" + std::string(ometria::to_string(type)) + "/";
    const auto pushes = pushed_ids();
    for (std::size_t i = 0; i < pushes.size(); ++i) {
      if (!pushes[i].empty() && pushes[i][0].rfind(prefix, 0) == 0) return static_cast<int>(i);
    }
    return -1;
  }

  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{io_.get_executor()};
  MemoryQueue queue_;
  FakeSender sender_;
  obs::Registry metrics_;
  std::optional<service::DeliveryService> service_;
  std::thread thread_;
};

TEST_F(DeliveryLanes, ALiveRecordTakesTheNextTokenOfItsKeyWhateverBackfillWaits) {
  enqueue(Lane::backfill, RecordType::contact, 5000);  // 50 pushes: 2.5 s at 20 pushes/s
  auto options = lanes_options();
  options.pushes_per_partition = 8;  // eight backfill pushers, each waiting for the key's next token
  start(options);
  ASSERT_TRUE(eventually([&] { return sender_.calls() >= 3; }));
  const std::size_t before = sender_.calls();
  const auto posted = std::chrono::steady_clock::now();
  enqueue(Lane::live, RecordType::custom_event, 1);
  service_->notify();
  ASSERT_TRUE(eventually([&] { return first_push_of(RecordType::custom_event) >= 0; }, 5s))
      << "the live record was never pushed";
  const auto latency = std::chrono::steady_clock::now() - posted;
  const auto live_push = static_cast<std::size_t>(first_push_of(RecordType::custom_event));
  // A scan and a lease may let a few backfill pushes take tokens first; never all eight pushers in turn.
  EXPECT_LE(live_push, before + 4) << "backfill pushes went before the live record";
  EXPECT_LT(latency, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(latency).count() << " ms";
  EXPECT_GT(queue_.lane_depth(Lane::backfill), 0u) << "the live record did not wait for the backfill to drain";
}

TEST_F(DeliveryLanes, BackfillKeepsItsOrderAndDrainsWhenNoLiveRecordWaits) {
  enqueue(Lane::backfill, RecordType::contact, 450);
  enqueue(Lane::live, RecordType::contact, 150, 1000);
  auto options = lanes_options();
  options.rate_limit.requests_per_second = 0;  // unlimited: order is what is checked here
  start(options);
  ASSERT_TRUE(eventually([&] { return queue_.depth() == 0; })) << queue_.depth();
  std::vector<int> backfill_order, live_order;
  for (const auto& push : pushed_ids()) {
    for (const auto& id : push) {
      const int n = std::stoi(id.substr(id.rfind('/') + 1));
      (n >= 1000 ? live_order : backfill_order).push_back(n);
    }
  }
  ASSERT_EQ(backfill_order.size(), 450u);
  ASSERT_EQ(live_order.size(), 150u);
  EXPECT_TRUE(std::is_sorted(backfill_order.begin(), backfill_order.end()));
  EXPECT_TRUE(std::is_sorted(live_order.begin(), live_order.end()));
  // Each push carries one lane only: the lanes are partitions of their own.
  for (const auto& push : pushed_ids()) {
    const bool live = std::stoi(push.front().substr(push.front().rfind('/') + 1)) >= 1000;
    for (const auto& id : push) EXPECT_EQ(std::stoi(id.substr(id.rfind('/') + 1)) >= 1000, live) << id;
  }
  auto stats = queue_.stats();
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->drained.size(), 2u);
  for (const auto& p : stats->drained) EXPECT_EQ(p.delivered, p.lane == Lane::live ? 150u : 450u);
}

TEST_F(DeliveryLanes, BackfillPushesInFlightLeaveASlotForALivePush) {
  auto options = lanes_options();
  options.rate_limit.requests_per_second = 0;
  options.max_in_flight = 4;        // backfill may hold three of them
  options.pushes_per_partition = 8;
  enqueue(Lane::backfill, RecordType::contact, 2000);
  sender_.hold_completions(true);  // nothing answers: pushes stay in flight
  start(options);
  ASSERT_TRUE(eventually([&] { return sender_.held() == 3; }));
  std::this_thread::sleep_for(100ms);  // time for a fourth backfill push, which must not come
  EXPECT_EQ(sender_.held(), 3u) << "backfill took the slot kept for live pushes";
  enqueue(Lane::live, RecordType::order, 1);
  service_->notify();
  ASSERT_TRUE(eventually([&] { return sender_.held() == 4; }, 5s)) << "the live push waited for a backfill answer";
  EXPECT_EQ(first_push_of(RecordType::order), 3);
}

TEST_F(DeliveryLanes, APauseFromA429PausesBothLanesOfTheKey) {
  auto options = lanes_options();
  options.rate_limit.requests_per_second = 0;
  options.retry.max_retry_after = 300ms;
  sender_.script(FakeSender::status(429, "1"));  // the first push: the key waits (Retry-After, capped at 300 ms)
  enqueue(Lane::backfill, RecordType::contact, 10);
  start(options);
  ASSERT_TRUE(eventually([&] { return sender_.calls() >= 1; }));
  const auto refused = std::chrono::steady_clock::now();
  // A live record of the key arrives during the backfill's pause: it waits too (the pause is Ometria's, per key).
  enqueue(Lane::live, RecordType::custom_event, 1);
  service_->notify();
  ASSERT_TRUE(eventually([&] { return sender_.calls() >= 2; }));
  EXPECT_GE(std::chrono::steady_clock::now() - refused, 250ms) << "a lane pushed while its key was paused";
  EXPECT_EQ(first_push_of(RecordType::custom_event), 1) << "after the pause, the live record goes first";
  ASSERT_TRUE(eventually([&] { return queue_.depth() == 0; }));
}

TEST(DeliveryLaneEvents, TheOldestLiveRecordsAgeIsAGaugePerSource) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  events.emit(obs::OldestLiveRecordAge{"web", 42});
  events.emit(obs::OldestLiveRecordAge{"web, app", 7});
  events.emit(obs::OldestLiveRecordAge{"web", 0});  // nothing waits any more
  const auto text = metrics.render_prometheus();
  EXPECT_NE(text.find("omt_queue_oldest_live_record_age_seconds{source=\"web\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("omt_queue_oldest_live_record_age_seconds{source=\"web, app\"} 7\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace omt::test
