// The delivery engine end to end in one process: a SQLite queue filled by the test, the DeliveryService with
// the real HTTPS sender, and the fake Ometria over TLS with a test CA made at test time. Timings are compressed
// (20 ms linger and backoff, probes after 300 ms); every wait is bounded.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "delivery_harness.hpp"
#include "omt/obs/log.hpp"

namespace {

using namespace std::chrono_literals;
using omt::ometria::RecordType;
using omt::test::DeliveryEngine;
using omt::test::enqueue_records;
using omt::test::eventually;
using omt::test::kWait;
using omt::testing::FakeOmetria;
using omt::testing::FakeOmetriaOptions;
using omt::testing::ScriptedAnswer;

const std::string kKeyA = "key-alpha-secret";
const std::string kKeyB = "key-bravo-secret";

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = omt::testing::make_test_pki(dir_.path()); }

  FakeOmetria& start_fake(bool trusted_certificate = true) {
    FakeOmetriaOptions options;
    options.keys = {kKeyA, kKeyB};
    options.tls = true;
    options.cert_file = trusted_certificate ? pki_.server_cert_file : pki_.untrusted_cert_file;
    options.key_file = trusted_certificate ? pki_.server_key_file : pki_.untrusted_key_file;
    options.threads = 2;
    fake_ = std::make_unique<FakeOmetria>(std::move(options));
    return *fake_;
  }

  omt::queue::SqliteQueue& queue() {
    if (!queue_) queue_ = omt::test::open_queue(dir_.file("queue.db"));
    return *queue_;
  }

  DeliveryEngine& start_engine(omt::service::DeliveryOptions options) {
    engine_ = std::make_unique<DeliveryEngine>(queue(), omt::test::test_sender_options(pki_.ca_file),
                                               std::move(options));
    return *engine_;
  }
  DeliveryEngine& start_engine() { return start_engine(omt::test::fast_options(fake_->url())); }

  void TearDown() override {
    engine_.reset();  // before the queue it uses
    fake_.reset();
    queue_.reset();
  }

  omt::testing::TempDir dir_;
  omt::testing::TestPki pki_;
  std::unique_ptr<FakeOmetria> fake_;
  std::unique_ptr<omt::queue::SqliteQueue> queue_;
  std::unique_ptr<DeliveryEngine> engine_;
};

TEST_F(DeliveryTest, DeliversExactlyTheQueuedRecordsGroupedByKeyAndTypeAtMost100APush) {
  auto& fake = start_fake();
  std::set<std::string> expected;
  expected.merge(enqueue_records(queue(), kKeyA, RecordType::contact, 250));
  expected.merge(enqueue_records(queue(), kKeyA, RecordType::custom_event, 30));
  expected.merge(enqueue_records(queue(), kKeyB, RecordType::order, 120));
  expected.merge(enqueue_records(queue(), kKeyB, RecordType::contact, 5));
  auto& engine = start_engine();

  ASSERT_TRUE(fake.wait_for_records(expected.size(), kWait)) << fake.record_count() << " of " << expected.size();
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; })) << queue().depth() << " records left";

  const auto records = fake.records();
  EXPECT_EQ(records.size(), expected.size()) << "no failure happened, so nothing may arrive twice";
  EXPECT_EQ(omt::test::distinct_ids(records), expected);
  for (const auto& r : records) {
    // The id starts with the key it was queued for, then its type.
    EXPECT_EQ(r.id.substr(0, r.api_key.size() + 1), r.api_key + "/") << r.id << " arrived with another key";
    EXPECT_EQ(r.id.substr(r.api_key.size() + 1, r.type.size()), r.type) << r.id;
  }
  std::map<std::pair<std::string, std::string>, std::size_t> pushes_per_partition;
  for (const auto& push : fake.pushes()) {
    EXPECT_LE(push.records, 100u);
    ASSERT_EQ(push.types.size(), 1u) << "push " << push.number << " mixes types";
    ++pushes_per_partition[{push.api_key, push.types[0]}];
  }
  // Full batches first: 250 contacts are 3 pushes, 120 orders 2, the small partitions one each.
  EXPECT_EQ((pushes_per_partition[{kKeyA, "contact"}]), 3u);
  EXPECT_EQ((pushes_per_partition[{kKeyA, "custom_event"}]), 1u);
  EXPECT_EQ((pushes_per_partition[{kKeyB, "order"}]), 2u);
  EXPECT_EQ((pushes_per_partition[{kKeyB, "contact"}]), 1u);

  for (const auto& seen : fake.requests()) EXPECT_EQ(seen.content_type, "application/json");
  const auto counters = engine.service().counters();
  EXPECT_EQ(counters.records_delivered, expected.size());
  EXPECT_EQ(counters.records_dead_lettered, 0u);
  const std::string metrics = engine.metrics().render_prometheus();
  EXPECT_NE(metrics.find(R"(omt_delivery_pushes_total{outcome="delivered",status="202"} 7)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omt_delivery_records_total{outcome="delivered"} 405)"), std::string::npos);
  EXPECT_NE(metrics.find("omt_delivery_push_seconds_count 7"), std::string::npos);
}

TEST_F(DeliveryTest, RecordsEnqueuedWhileRunningAreFoundByNotifyAndLingerCollectsThem) {
  auto& fake = start_fake();
  auto options = omt::test::fast_options(fake.url());
  options.poll_interval = 10s;  // only notify() can wake the engine in time
  options.linger = 300ms;       // long enough for all three enqueues to share one push
  auto& engine = start_engine(options);
  std::set<std::string> expected;
  for (int round = 0; round < 3; ++round) {
    expected.merge(enqueue_records(queue(), kKeyA, RecordType::contact, 10, round * 10));
    engine.service().notify();
  }
  ASSERT_TRUE(fake.wait_for_records(30, 5s)) << fake.record_count();
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), expected);
  EXPECT_EQ(fake.pushes().size(), 1u) << "the linger gathers records that arrive within it";
}

TEST_F(DeliveryTest, PushesOfSeveralPartitionsRunConcurrentlyUpToTheCap) {
  auto& fake = start_fake();
  fake.set_delay(100ms);
  // Six partitions: three types on each of two keys.
  std::size_t total = 0;
  for (const auto& key : {kKeyA, kKeyB}) {
    for (auto type : {RecordType::contact, RecordType::order, RecordType::custom_event}) {
      total += enqueue_records(queue(), key, type, 100).size();
    }
  }
  auto options = omt::test::fast_options(fake.url());
  options.max_in_flight = 3;
  start_engine(options);
  ASSERT_TRUE(fake.wait_for_records(total, kWait));
  EXPECT_EQ(fake.pushes().size(), 6u);
  EXPECT_LE(fake.max_concurrent_requests(), 3u);
  EXPECT_GE(fake.max_concurrent_requests(), 2u) << "partitions push in parallel";
}

TEST_F(DeliveryTest, TheTokenBucketSpacesOneKeysPushes) {
  auto& fake = start_fake();
  enqueue_records(queue(), kKeyA, RecordType::contact, 500);
  auto options = omt::test::fast_options(fake.url());
  options.rate_limit.requests_per_second = 20;
  options.rate_limit.burst = 1;
  const auto started = std::chrono::steady_clock::now();
  start_engine(options);
  ASSERT_TRUE(fake.wait_for_records(500, kWait));
  // 5 pushes at 20/s with a bucket of 1: the last goes at least 4 x 50 ms after the first.
  EXPECT_GE(std::chrono::steady_clock::now() - started, 190ms);
  EXPECT_EQ(fake.pushes().size(), 5u);
}

TEST_F(DeliveryTest, AnOutageLosesNothingAndEverythingArrivesAfterIt) {
  auto& fake = start_fake();
  // 500s, dropped connections, 429 with Retry-After (capped at 60 ms by the test's options), an accepted push
  // whose answer is lost, and a slow answer; then Ometria is back.
  for (int i = 0; i < 3; ++i) fake.script(ScriptedAnswer::with_status(500));
  for (int i = 0; i < 2; ++i) fake.script(ScriptedAnswer::dropped());
  fake.script(ScriptedAnswer::with_status(429, "1"));
  fake.script(ScriptedAnswer::with_status(503, "0"));
  ScriptedAnswer lost;
  lost.kind = ScriptedAnswer::Kind::accept_then_drop;
  fake.script(lost);
  fake.script(ScriptedAnswer::with_status(429));
  fake.script(ScriptedAnswer::with_status(408));
  std::set<std::string> expected;
  expected.merge(enqueue_records(queue(), kKeyA, RecordType::contact, 230));
  expected.merge(enqueue_records(queue(), kKeyB, RecordType::order, 40));
  auto& engine = start_engine();

  ASSERT_TRUE(omt::test::wait_for_distinct_ids(fake, expected.size())) << fake.record_count();
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; })) << queue().depth();
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), expected);
  auto stats = queue().stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->dead_letters, 0u);
  EXPECT_GE(engine.service().counters().records_retried, 1u);
  const std::string metrics = engine.metrics().render_prometheus();
  EXPECT_NE(metrics.find(R"(omt_delivery_pushes_total{outcome="retry",status="500"} 3)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omt_delivery_pushes_total{outcome="retry",status="429"} 2)"), std::string::npos);
}

TEST_F(DeliveryTest, TheConnectionDroppingForAWhileLosesNothing) {
  auto& fake = start_fake();
  for (int i = 0; i < 6; ++i) fake.script(ScriptedAnswer::dropped());
  const auto expected = enqueue_records(queue(), kKeyA, RecordType::custom_event, 150);
  start_engine();
  ASSERT_TRUE(omt::test::wait_for_distinct_ids(fake, expected.size()));
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), expected);
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; }));
}

TEST_F(DeliveryTest, A401HoldsOnlyThatKeyWhileAnotherFlowsAndTheProbeReleasesIt) {
  auto& fake = start_fake();
  fake.set_key_status(kKeyA, 401);
  const auto held_ids = enqueue_records(queue(), kKeyA, RecordType::contact, 150);
  auto options = omt::test::fast_options(fake.url());
  options.retry.hold_probe_interval = 1500ms;
  auto& engine = start_engine(options);

  // Key A is held...
  ASSERT_TRUE(eventually([&] { return engine.service().held_keys().size() == 1; }));
  const auto held = engine.service().held_keys();
  EXPECT_EQ(held[0].key_fingerprint, omt::obs::key_fingerprint(kKeyA));
  EXPECT_EQ(held[0].reason.rfind("HTTP 401", 0), 0u) << held[0].reason;

  // ...while key B's records, queued after the hold, flow at once.
  const auto started = std::chrono::steady_clock::now();
  const auto flowing_ids = enqueue_records(queue(), kKeyB, RecordType::contact, 300);
  engine.service().notify();
  ASSERT_TRUE(fake.wait_for_records(300, kWait));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1000ms) << "a held key must not slow another";
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), flowing_ids);

  // A's records are still queued, not dead-lettered, and the queue knows the key is held.
  ASSERT_TRUE(eventually([&] { return queue().depth() == held_ids.size(); })) << queue().depth();
  auto stats = queue().stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->dead_letters, 0u);
  ASSERT_EQ(stats->held_keys.size(), 1u);
  EXPECT_EQ(stats->held_keys[0].api_key, kKeyA);
  const std::string metrics = engine.metrics().render_prometheus();
  EXPECT_NE(metrics.find("omt_delivery_held_keys 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("omt_delivery_key_held{key=\"" + omt::obs::key_fingerprint(kKeyA) + "\"} 1"),
            std::string::npos);
  EXPECT_EQ(metrics.find(kKeyA), std::string::npos) << "the key itself never appears";

  // Ometria accepts the key again: the next probe releases its records.
  fake.clear_key_status(kKeyA);
  ASSERT_TRUE(omt::test::wait_for_distinct_ids(fake, held_ids.size() + flowing_ids.size()));
  std::set<std::string> all = held_ids;
  all.insert(flowing_ids.begin(), flowing_ids.end());
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), all);
  ASSERT_TRUE(eventually([&] { return engine.service().held_keys().empty() && queue().depth() == 0; }));
  auto after = queue().held_keys();
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
  EXPECT_NE(engine.metrics().render_prometheus().find("omt_delivery_held_keys 0"), std::string::npos);
}

TEST_F(DeliveryTest, AHeldKeyIsProbedWithOnePushAndStaysHeldWhileStillRefused) {
  auto& fake = start_fake();
  fake.set_key_status(kKeyA, 403);
  enqueue_records(queue(), kKeyA, RecordType::contact, 20);
  enqueue_records(queue(), kKeyA, RecordType::order, 20);
  auto options = omt::test::fast_options(fake.url());
  options.retry.hold_probe_interval = 100ms;
  auto& engine = start_engine(options);
  // The first refusals, then probes: each probe is one push, so requests grow by one per interval at most.
  ASSERT_TRUE(fake.wait_for_requests(5, kWait));
  EXPECT_EQ(fake.record_count(), 0u);
  EXPECT_LE(fake.max_concurrent_requests(), 2u) << "after the first refusals, one probe push at a time";
  EXPECT_EQ(engine.service().held_keys().size(), 1u);
  EXPECT_EQ(queue().depth(), 40u);
  fake.clear_key_status(kKeyA);
  ASSERT_TRUE(omt::test::wait_for_distinct_ids(fake, 40));
}

TEST_F(DeliveryTest, A400MovesThePushToTheDeadLetterStoreWithTheReason) {
  auto& fake = start_fake();
  ScriptedAnswer bad = ScriptedAnswer::with_status(400);
  bad.only_for_key = kKeyA;
  fake.script(bad);
  const auto dead_ids = enqueue_records(queue(), kKeyA, RecordType::order, 10);
  const auto good_ids = enqueue_records(queue(), kKeyB, RecordType::order, 10);
  auto& engine = start_engine();

  ASSERT_TRUE(fake.wait_for_records(10, kWait));
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; }));
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), good_ids);
  auto dead = queue().dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 10u);
  for (const auto& d : *dead) {
    EXPECT_EQ(d.record.api_key, kKeyA);
    EXPECT_EQ(d.reason.rfind("HTTP 400", 0), 0u) << d.reason;
  }
  EXPECT_EQ(engine.service().counters().records_dead_lettered, 10u);
  EXPECT_NE(engine.metrics().render_prometheus().find(R"(omt_delivery_pushes_total{outcome="dead_letter",status="400"} 1)"),
            std::string::npos);
}

TEST_F(DeliveryTest, ADeadLettersReasonKeepsOmetriasExplanationRedactedOnOneLine) {
  auto& fake = start_fake();
  ScriptedAnswer bad = ScriptedAnswer::with_status(400);
  bad.body = R"({"type":"about:blank","status":400,"detail":"Payload invalid: \"email\" of ann@example.com is malformed",)"
             "\n  \"phone\": \"+44 7700 900123\"}";
  fake.script(bad);
  enqueue_records(queue(), kKeyA, RecordType::contact, 3);
  start_engine();

  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; }));
  auto dead = queue().dead_letters({});
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 3u);
  const std::string& reason = dead->front().reason;
  EXPECT_EQ(reason.rfind("HTTP 400 Bad Request: Ometria refused the payload; Ometria's answer: {", 0), 0u) << reason;
  EXPECT_NE(reason.find(R"(Payload invalid: \"email\" of <email> is malformed)"), std::string::npos) << reason;
  EXPECT_NE(reason.find(R"(, "phone": "<phone>"})"), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  EXPECT_EQ(reason.find("ann@example.com"), std::string::npos) << reason;
}

TEST_F(DeliveryTest, RecordsOmetriaCountsAsRejectedInA2xxAreNotCountedAsDelivered) {
  auto& fake = start_fake();
  enqueue_records(queue(), kKeyA, RecordType::contact, 3);
  // Without an id: the fake, like Ometria, accepts the push and counts the record as rejected in its receipt.
  ASSERT_TRUE(queue().enqueue({omt::queue::NewRecord{kKeyA, RecordType::contact, R"({"@type":"contact","email":"x"})"}})
                  .get());
  auto& engine = start_engine();

  ASSERT_TRUE(fake.wait_for_records(3, kWait));
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; }));
  ASSERT_TRUE(eventually([&] { return engine.service().counters().records_delivered == 3; }));
  const std::string metrics = engine.metrics().render_prometheus();
  EXPECT_NE(metrics.find(R"(omt_delivery_records_total{outcome="delivered"} 3)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omt_delivery_records_total{outcome="rejected_by_ometria"} 1)"), std::string::npos) << metrics;
}

// The operator commands open the queue file beside the running service (another connection, as the CLI does).
TEST_F(DeliveryTest, ARekeyBesideTheRunningServiceMovesAHeldKeysRecordsToTheNewKeyAndEndsTheHold) {
  auto& fake = start_fake();
  fake.set_key_status(kKeyA, 401);
  enqueue_records(queue(), kKeyA, RecordType::contact, 5);
  auto options = omt::test::fast_options(fake.url());
  options.retry.hold_probe_interval = 1s;  // the rekey below comes well before the probe
  auto& engine = start_engine(options);
  ASSERT_TRUE(eventually([&] {
    auto held = queue().held_keys();
    return held && held->size() == 1;
  }));
  {
    auto operator_queue = omt::test::open_queue(dir_.file("queue.db"));
    auto moved = operator_queue->rekey(kKeyA, kKeyB);
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(*moved, 5u);
  }
  ASSERT_TRUE(omt::test::wait_for_distinct_ids(fake, 5));
  for (const auto& r : fake.records()) EXPECT_EQ(r.api_key, kKeyB);
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; }));
  // At its probe the service finds the hold gone from the queue: the key is held no longer.
  ASSERT_TRUE(eventually([&] { return engine.service().held_keys().empty(); }));
}

TEST_F(DeliveryTest, AReleaseBesideTheRunningServiceDeadLettersAHeldKeysRecordsAndTheDepthFollows) {
  auto& fake = start_fake();
  fake.set_key_status(kKeyA, 401);
  enqueue_records(queue(), kKeyA, RecordType::contact, 5);
  auto options = omt::test::fast_options(fake.url());
  options.retry.hold_probe_interval = 1s;
  auto& engine = start_engine(options);
  ASSERT_TRUE(eventually([&] {
    auto held = queue().held_keys();
    return held && held->size() == 1;
  }));
  EXPECT_EQ(queue().depth(), 5u);
  {
    auto operator_queue = omt::test::open_queue(dir_.file("queue.db"));
    auto released = operator_queue->release_key(kKeyA, "given up by the operator");
    ASSERT_TRUE(released) << released.error().message;
    EXPECT_EQ(*released, 5u);
  }
  // The service's own count (/health, omt_queue_depth, the high-water mark) follows the other connection's change.
  ASSERT_TRUE(eventually([&] { return queue().depth() == 0; }));
  ASSERT_TRUE(eventually([&] { return engine.service().held_keys().empty(); }));
  auto dead = queue().dead_letters({});
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->size(), 5u);
}

TEST_F(DeliveryTest, ACertificateFromAnUnknownCaIsRefusedAndTheRecordsStayQueued) {
  auto& fake = start_fake(/*trusted_certificate=*/false);
  enqueue_records(queue(), kKeyA, RecordType::contact, 25);
  auto& engine = start_engine();
  ASSERT_TRUE(eventually([&] { return engine.service().counters().records_retried >= 50; }))
      << "several attempts, each refused";
  EXPECT_EQ(fake.request_count(), 0u) << "no request may be sent over an untrusted connection";
  EXPECT_EQ(fake.record_count(), 0u);
  EXPECT_EQ(queue().depth(), 25u);
  auto stats = queue().stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->dead_letters, 0u);
  EXPECT_NE(engine.metrics().render_prometheus().find(R"(omt_delivery_pushes_total{outcome="retry",status="certificate"})"),
            std::string::npos);
}

TEST_F(DeliveryTest, StopWaitsForPushesInFlightAndLeavesTheRestQueued) {
  auto& fake = start_fake();
  fake.hold_answers();
  enqueue_records(queue(), kKeyA, RecordType::contact, 100);
  enqueue_records(queue(), kKeyA, RecordType::order, 50);
  auto& engine = start_engine();
  ASSERT_TRUE(fake.wait_for_held(2, kWait));
  // Answer in a moment, from another thread, while stop() is waiting.
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);  // only to let stop() begin first; the test holds either way
    fake.release_answers();
  });
  EXPECT_TRUE(engine.stop(5s));
  releaser.join();
  EXPECT_EQ(fake.record_count(), 150u);
  EXPECT_EQ(queue().depth(), 0u) << "answers that came back before the deadline were acked";
}

TEST_F(DeliveryTest, StopAtTheDeadlineLeavesUnansweredRecordsInTheQueue) {
  auto& fake = start_fake();
  fake.hold_answers();
  enqueue_records(queue(), kKeyA, RecordType::contact, 60);
  auto& engine = start_engine();
  ASSERT_TRUE(fake.wait_for_held(1, kWait));
  EXPECT_FALSE(engine.stop(50ms));
  fake.release_answers();
  EXPECT_EQ(queue().depth(), 60u) << "not acked, so still queued (at-least-once)";
}

// The queue answers delivery through callbacks (queue.hpp): the engine starts no threads of its own (it once ran
// the queue's calls on a pool), yet everything is delivered and acked.
TEST_F(DeliveryTest, TheEngineStartsNoThreadsOfItsOwnAndStillDeliversEverything) {
  const auto threads = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
  };
  auto& fake = start_fake();
  const auto expected = enqueue_records(queue(), kKeyA, RecordType::contact, 150);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  omt::obs::Registry metrics;
  auto sender = omt::net::make_https_sender(io, omt::test::test_sender_options(pki_.ca_file));
  const std::size_t before = threads();
  auto service = std::make_unique<omt::service::DeliveryService>(io, queue(), *sender,
                                                                 omt::test::fast_options(fake.url()), metrics);
  EXPECT_EQ(threads(), before);
  std::thread io_thread([&] { io.run(); });
  service->start();
  EXPECT_TRUE(fake.wait_for_records(expected.size(), kWait)) << fake.record_count();
  EXPECT_TRUE(eventually([&] { return queue().depth() == 0; })) << queue().depth() << " records left";
  EXPECT_TRUE(service->stop(5s));
  sender.reset();
  work.reset();
  io_thread.join();
  service.reset();
  EXPECT_EQ(omt::test::distinct_ids(fake.records()), expected);
}

}  // namespace
