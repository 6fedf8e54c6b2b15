// The ingest routes through the real server on 127.0.0.1:0 into a real SqliteQueue in a temporary directory:
// what a 200 promises (the records are in the queue file), what is refused (401, 400, 413, 429, 503), dry runs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include "ingest_fixture.hpp"
#include "omt/obs/log.hpp"

namespace {

using namespace omt::test::ingest;
using namespace std::chrono_literals;
using nlohmann::json;
using omt::queue::QueuedRecord;
using omt::queue::RecordType;
using omt::test::basic_auth;
using omt::test::Headers;

TEST_F(IngestTest, IdentifyWithBasicAuthIsInTheQueueAfterThe200) {
  start();
  json event = identify(1);
  event.erase("type");  // the path says what it is
  const auto response = post("/v1/identify", event.dump(), kWebBasic);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":1,"rejected":[]})");
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  EXPECT_TRUE(omt::test::wait_until([&] { return notified_.load() == 1; }));

  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].api_key, "key-web");
  EXPECT_EQ(stored[0].type, RecordType::contact);
  const json record = json::parse(stored[0].json);
  EXPECT_EQ(record["email"], "user1@example.com");
  EXPECT_EQ(record["@collection"], "web-shop");
}

TEST_F(IngestTest, BatchStoresTheAcceptedAndNeverTheRejected) {
  start();
  json bad = identify(2);
  bad["context"]["traits"].erase("email");
  const json batch = {{"batch", json::array({identify(0), custom_event(1), bad, json{{"type", "page"}}, identify(4)})}};
  const auto response = post("/v1/batch", batch.dump(), {{"Authorization", basic_auth("wk-app")}});
  ASSERT_EQ(response.status, 200) << response.body;
  const json body = json::parse(response.body);
  EXPECT_EQ(body["accepted"], 3);
  EXPECT_EQ(body["skipped"], 1);  // the page call: Ometria has no record for it
  ASSERT_EQ(body["rejected"].size(), 1u);
  EXPECT_EQ(body["rejected"][0], json({{"index", 2}, {"error", R"(Missing required value from ["traits.email","context.traits.email"])"}}));
  EXPECT_NE(metrics_.render_prometheus().find(R"(omt_ingest_events_total{outcome="accepted"} 3)"), std::string::npos);
  EXPECT_NE(metrics_.render_prometheus().find(R"(omt_ingest_events_total{outcome="skipped"} 1)"), std::string::npos);

  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), 3u);
  std::vector<std::string> ids;
  for (const auto& r : stored) {
    EXPECT_EQ(r.api_key, "key-app");
    ids.push_back(json::parse(r.json)["id"].get<std::string>());
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"l0", "l4", "m1"}));
}

TEST_F(IngestTest, TrackSetsTheTypeFromThePath) {
  start();
  json event = custom_event(5);
  event.erase("type");
  const auto response = post("/v1/track", event.dump(), kWebBasic);
  ASSERT_EQ(response.status, 200) << response.body;
  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].type, RecordType::custom_event);
}

// ---- what the gateway stamps on arrival ------------------------------------------------------------------------

// A track as curl users send it: no timestamp, no messageId. rudder-server's gateway would stamp it; so does this.
TEST_F(IngestTest, ACurlTrackWithoutTimestampIsAcceptedAndStoredStamped) {
  start();
  const std::string body = R"({"userId":"u-1","event":"Viewed Thing","context":{"traits":{"email":"a@example.com"}}})";
  auto response = post("/v1/track", body, kWebBasic);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":1,"rejected":[]})");
  response = post("/v1/track", body, kWebBasic);  // sent again: the same messageId, so the same record id
  ASSERT_EQ(response.status, 200) << response.body;

  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].type, RecordType::custom_event);
  const json record = json::parse(stored[0].json);
  EXPECT_EQ(record["timestamp"], "2024-05-01T10:00:05.678Z");  // the arrival (the fixture's clock)
  EXPECT_EQ(record["id"].get<std::string>().size(), 36u);     // a UUID of the event
  EXPECT_EQ(stored[1].json, stored[0].json);
}

// An order's ip_address comes from context.ip, which the stamp fills in from the request.
json order_with_ip() {
  json order = custom_event(7);
  order["event"] = "Order Completed";
  order["properties"] = {{"order_id", "o-7"}, {"grand_total", 10}, {"currency", "GBP"}};
  return order;
}

TEST_F(IngestTest, XForwardedForIsIgnoredFromAPeerThatIsNotATrustedProxy) {
  start();
  Headers headers = kWebBasic;
  headers.push_back({"X-Forwarded-For", "203.0.113.9"});
  const json order = order_with_ip();
  const auto response = post("/v1/track?dry_run=true", order.dump(), headers);  // dry runs stamp too
  ASSERT_EQ(response.status, 200) << response.body;
  const json record = json::parse(response.body)["batches"][0]["records"][0];
  EXPECT_EQ(record["ip_address"], "127.0.0.1");  // the peer: anyone can write that header
  EXPECT_EQ(record["timestamp"], "2024-05-01T10:00:00.000Z");  // its originalTimestamp, in the one format
}

TEST_F(IngestTest, XForwardedForNamesTheClientWhenThePeerIsATrustedProxy) {
  trusted_proxies_ = {*omt::ip::parse_network("127.0.0.0/8")};
  start();
  Headers headers = kWebBasic;
  headers.push_back({"X-Forwarded-For", "198.51.100.1, 203.0.113.9"});  // the proxy appended the real client
  const auto response = post("/v1/track?dry_run=true", order_with_ip().dump(), headers);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body)["batches"][0]["records"][0]["ip_address"], "203.0.113.9");
  // An event's own context.ip is kept.
  json own = order_with_ip();
  own["context"]["ip"] = "192.0.2.77";
  const auto kept = post("/v1/track?dry_run=true", own.dump(), headers);
  EXPECT_EQ(json::parse(kept.body)["batches"][0]["records"][0]["ip_address"], "192.0.2.77");
}

TEST_F(IngestTest, WebhookTakesBearerOrTokenParameterAndOneEventOrAnArray) {
  start();
  auto response = post("/v1/webhook", identify(1).dump(), kWebBearer);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":1,"rejected":[]})");
  response = post("/v1/webhook?token=tok-web", json::array({identify(2), custom_event(3)}).dump(), {});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":2,"rejected":[]})");
  EXPECT_EQ(records_in_queue_file().size(), 3u);
}

TEST_F(IngestTest, MissingOrUnknownCredentialsAre401AndStoreNothing) {
  start();
  struct Case {
    std::string target;
    Headers headers;
    std::string challenge;
  };
  for (const auto& c : std::vector<Case>{
           {"/v1/identify", {}, "Basic"},
           {"/v1/track", {{"Authorization", basic_auth("wk-wrong")}}, "Basic"},
           {"/v1/batch", {{"Authorization", "Bearer wk-web"}}, "Basic"},
           {"/v1/batch?token=tok-web", {}, "Basic"},
           {"/v1/webhook", {}, "Bearer"},
           {"/v1/webhook", {{"Authorization", "Bearer tok-wrong"}}, "Bearer"},
           {"/v1/webhook?token=wk-web", {}, "Bearer"},
           {"/v1/webhook", {{"Authorization", basic_auth("wk-web")}}, "Bearer"},
           {"/v1/identify?dry_run=true", {}, "Basic"},  // a dry run needs credentials too
       }) {
    const auto response = post(c.target, identify(1).dump(), c.headers);
    EXPECT_EQ(response.status, 401) << c.target;
    EXPECT_EQ(response.header("WWW-Authenticate").rfind(c.challenge, 0), 0u) << response.header("WWW-Authenticate");
    EXPECT_TRUE(json::parse(response.body).contains("error"));
    EXPECT_EQ(response.body.find("wrong"), std::string::npos);
  }
  EXPECT_TRUE(records_in_queue_file().empty());
}

TEST_F(IngestTest, EveryCallTypeHasItsRouteAndTheOnesOmetriaHasNoRecordForAreSkippedWith200) {
  start();
  for (const char* type : {"page", "screen", "group", "alias"}) {
    const auto response = post(std::string("/v1/") + type, json{{"userId", "u1"}, {"name", "Home"}}.dump(), kWebBasic);
    EXPECT_EQ(response.status, 200) << type << ": " << response.body;
    EXPECT_EQ(response.body, R"({"accepted":0,"skipped":1,"rejected":[]})") << type;
  }
  // Every event skipped, in a batch or the webhook, is a 200 as well; a type in any case is the same call.
  const json batch = {{"batch", json::array({json{{"type", "Page"}}, json{{"type", "screen"}}})}};
  EXPECT_EQ(post("/v1/batch", batch.dump(), kWebBasic).status, 200);
  EXPECT_EQ(post("/v1/webhook", json{{"type", "alias"}}.dump(), kWebBearer).status, 200);
  // A dry run says the same.
  const auto dry = post("/v1/page?dry_run=true", "{}", kWebBasic);
  EXPECT_EQ(dry.status, 200);
  EXPECT_EQ(json::parse(dry.body)["skipped"], 1);
  EXPECT_NE(metrics_.render_prometheus().find(R"(omt_ingest_events_total{outcome="skipped"} 7)"), std::string::npos)
      << metrics_.render_prometheus();
  EXPECT_EQ(notified_.load(), 0);
  EXPECT_TRUE(records_in_queue_file().empty());
}

TEST_F(IngestTest, TheNewCallRoutesKeepCredentialsAndLimits) {
  start();
  EXPECT_EQ(post("/v1/page", "{}", {}).status, 401);
  EXPECT_EQ(post("/v1/screen", "[]", kWebBasic).status, 400);  // one event object
  // A type given in the event is kept, as on /v1/track.
  EXPECT_EQ(post("/v1/page", identify(1).dump(), kWebBasic).body, R"({"accepted":1,"rejected":[]})");
  EXPECT_EQ(records_in_queue_file().size(), 1u);
}

TEST_F(IngestTest, EveryEventRejectedIsA200AndTheEventsAreKeptWithTheirReasons) {
  start();
  const auto response = post("/v1/webhook", json::array({json{{"type", "pageview"}}, 3}).dump(), kWebBearer);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.body,
            R"({"accepted":0,"rejected":[{"index":0,"error":"message type pageview is not supported"},)"
            R"({"index":1,"error":"Expected an event object, got number"}]})");
  EXPECT_EQ(notified_.load(), 0);  // nothing for delivery
  EXPECT_TRUE(records_in_queue_file().empty());
  // The event is kept (durable before the 200); the number is not an event, so there is nothing to keep.
  const auto kept = rejected_events_in_queue_file();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].event.source, "web");
  EXPECT_EQ(kept[0].event.route, "/v1/webhook");
  EXPECT_EQ(kept[0].event.reason, "message type pageview is not supported");
  // As it was transformed: with the gateway's stamps (replay must see what ingest saw).
  const json kept_event = json::parse(kept[0].event.event);
  EXPECT_EQ(kept_event["type"], "pageview");
  EXPECT_TRUE(kept_event.contains("receivedAt") && kept_event.contains("messageId")) << kept[0].event.event;
}

TEST_F(IngestTest, ARequestOfNoEventsAtAllIsStill400AndStoresNothing) {
  start();
  const auto response = post("/v1/batch", json{{"batch", json::array({1, "two"})}}.dump(), kWebBasic);
  ASSERT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            R"({"accepted":0,"rejected":[{"index":0,"error":"Expected an event object, got number"},)"
            R"({"index":1,"error":"Expected an event object, got string"}]})");
  EXPECT_TRUE(rejected_events_in_queue_file().empty());
}

TEST_F(IngestTest, RejectedEventsOfABatchAreKeptBesideItsRecordsAsTheyWereTransformed) {
  start();
  json bad = identify(2);
  bad["context"].erase("traits");
  const json batch = {{"context", {{"traits", {{"listingId", "from-batch"}}}}},
                      {"batch", json::array({identify(1), bad})}};
  const auto response = post("/v1/batch", batch.dump(), {{"Authorization", basic_auth("wk-app")}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body)["accepted"], 1);
  EXPECT_EQ(records_in_queue_file().size(), 1u);
  const auto kept = rejected_events_in_queue_file();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].event.source, "app");
  EXPECT_EQ(kept[0].event.route, "/v1/batch");
  EXPECT_EQ(kept[0].event.reason, json::parse(response.body)["rejected"][0]["error"]);
  // The batch-level context merged in: replay transforms what ingest did.
  EXPECT_EQ(json::parse(kept[0].event.event)["context"]["traits"]["listingId"], "from-batch");
}

TEST_F(IngestTest, ADryRunKeepsNoRejectedEvent) {
  start();
  const auto response = post("/v1/track?dry_run=true", json{{"event", "x"}}.dump(), kWebBasic);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body)["rejected"].size(), 1u);
  EXPECT_TRUE(rejected_events_in_queue_file().empty());
}

TEST_F(IngestTest, RejectedEventsPastTheBoundDropTheOldestAndAreCounted) {
  max_rejected_events_ = 2;
  start();
  for (int i = 0; i < 3; ++i) {
    json bad = custom_event(i);
    bad["context"]["traits"].erase("email");  // a custom event needs an e-mail
    bad["event"] = "Bad " + std::to_string(i);
    ASSERT_EQ(post("/v1/track", bad.dump(), kWebBasic).status, 200);
  }
  EXPECT_NE(metrics_.render_prometheus().find("omt_ingest_rejected_events_dropped_total 1"), std::string::npos)
      << metrics_.render_prometheus();
  const auto kept = rejected_events_in_queue_file();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(json::parse(kept[0].event.event)["event"], "Bad 1");
  EXPECT_EQ(json::parse(kept[1].event.event)["event"], "Bad 2");
}

TEST_F(IngestTest, BadBodiesAre400WithTheReasonAndTooManyEvents413) {
  omt::protocol::IngestLimits limits;
  limits.max_events_per_request = 2;
  start(true, 1'000'000, limits);
  auto response = post("/v1/batch", R"({"batch":[{"type":"identify",]})", kWebBasic);
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(json::parse(response.body)["error"].get<std::string>().find("Invalid JSON at byte 29"), std::string::npos)
      << response.body;
  response = post("/v1/batch", R"({"events":[]})", kWebBasic);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(json::parse(response.body)["error"],
            R"(Expected an object {"batch":[event objects]} with a non-empty batch, got an object without "batch")");
  response = post("/v1/batch", json{{"batch", json::array({identify(1), identify(2), identify(3)})}}.dump(), kWebBasic);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(json::parse(response.body)["error"], "Too many events in one request: 3 (at most 2)");
  EXPECT_TRUE(records_in_queue_file().empty());
}

TEST_F(IngestTest, OverTheHighWaterMarkIs429WithRetryAfterAndStoresNothing) {
  start(true, /*high_water_mark=*/2);
  auto response = post("/v1/webhook", json::array({identify(1), identify(2)}).dump(), kWebBearer);
  ASSERT_EQ(response.status, 200) << response.body;
  ASSERT_TRUE(queue_->over_high_water());
  response = post("/v1/identify", identify(3).dump(), kWebBasic);
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.header("Retry-After"), "5");
  EXPECT_TRUE(json::parse(response.body).contains("error"));
  // A dry run still answers: it stores nothing.
  response = post("/v1/identify?dry_run=true", identify(3).dump(), kWebBasic);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(records_in_queue_file().size(), 2u);
}

TEST_F(IngestTest, OverSlowDownFromTheAnswerIsHeldBackLongerAsTheQueueGrows) {
  omt::protocol::IngestLimits limits;
  limits.slow_down_from = 2;
  limits.max_slow_down = 800ms;
  start(true, /*high_water_mark=*/10, limits);
  const auto timed_post = [&](int n) {
    const auto started = std::chrono::steady_clock::now();
    auto response = post("/v1/identify", identify(n).dump(), kWebBasic);
    EXPECT_EQ(response.status, 200) << response.body;
    return std::chrono::steady_clock::now() - started;
  };
  timed_post(1);  // 1 record queued: under the threshold, not held back
  EXPECT_NE(metrics_.render_prometheus().find("omt_ingest_slowed_answers_total 0"), std::string::npos);
  for (int n = 2; n <= 5; ++n) timed_post(n);
  // 6 records queued once stored: (6 - 2) / (10 - 2) of 800 ms. Only the lower bound is checked (a slow
  // machine answers later, never sooner).
  EXPECT_GE(timed_post(6), 400ms);
  EXPECT_NE(metrics_.render_prometheus().find("omt_ingest_slowed_answers_total 5"), std::string::npos)
      << metrics_.render_prometheus();
  EXPECT_EQ(records_in_queue_file().size(), 6u);  // held back, never refused: everything was stored
}

TEST_F(IngestTest, DryRunAnswersTheRecordsAsBatchedAndStoresNothing) {
  start();
  const json batch = {{"batch", json::array({identify(0), custom_event(1), identify(2), json{{"type", "page"}}})}};
  const auto response = post("/v1/batch?dry_run=true", batch.dump(), kWebBasic);
  ASSERT_EQ(response.status, 200) << response.body;
  const json body = json::parse(response.body);
  EXPECT_EQ(body["dry_run"], true);
  ASSERT_EQ(body["batches"].size(), 2u);
  EXPECT_EQ(body["batches"][0]["type"], "contact");
  EXPECT_EQ(body["batches"][0]["api_key"], omt::obs::key_fingerprint("key-web"));
  ASSERT_EQ(body["batches"][0]["records"].size(), 2u);
  EXPECT_EQ(body["batches"][0]["records"][1]["id"], "l2");
  EXPECT_EQ(body["batches"][1]["type"], "custom_event");
  EXPECT_EQ(body["skipped"], 1);
  EXPECT_EQ(body["rejected"], json::array());
  EXPECT_EQ(response.body.find("key-web"), std::string::npos);
  EXPECT_EQ(notified_.load(), 0);
  EXPECT_TRUE(records_in_queue_file().empty());
}

TEST_F(IngestTest, WithoutAQueueOnlyDryRunsWork) {
  start(/*with_queue=*/false);
  auto response = post("/v1/track", custom_event(1).dump(), kWebBasic);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.header("Retry-After"), "5");
  response = post("/v1/track?dry_run=1", custom_event(1).dump(), kWebBasic);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body)["batches"][0]["records"][0]["id"], "m1");
}

// A queue that hands writes to the test instead of storing them: shows when the answer is sent.
class ManualQueue final : public omt::queue::Queue {
 public:
  template <class T>
  using Done = omt::queue::Done<T>;
  using Queue::enqueue;
  using Queue::store;
  void enqueue(std::vector<omt::queue::NewRecord> records, EnqueueDone done) override {
    std::lock_guard lock(mutex_);
    pending_.emplace_back(std::move(records), std::move(done));
  }
  // The records are handed to the test as an enqueue (these tests send no rejected events).
  void store(omt::queue::IngestWrite write, StoreDone done) override {
    std::lock_guard lock(mutex_);
    pending_.emplace_back(std::move(write.records), [done = std::move(done)](omt::Expected<std::vector<omt::queue::RecordId>> ids) {
      if (!ids) return done(tl::unexpected(ids.error()));
      done(omt::queue::IngestStored{std::move(*ids), 0});
    });
  }
  void rejected_events(const omt::queue::RejectedEventSelection&, Done<std::vector<omt::queue::RejectedEvent>> done) override {
    done(unused());
  }
  void settle_rejected_events(std::vector<omt::queue::RejectedEventOutcome>, Done<omt::queue::RejectedEventsSettled> done) override {
    done(unused());
  }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  std::pair<std::vector<omt::queue::NewRecord>, EnqueueDone> take() {
    std::lock_guard lock(mutex_);
    auto first = std::move(pending_.front());
    pending_.erase(pending_.begin());
    return first;
  }

  void lease(const std::string&, RecordType, omt::queue::Lane, std::size_t, std::chrono::milliseconds,
             Done<omt::queue::Leased> done) override { done(unused()); }
  void ack(const std::vector<omt::queue::RecordId>&, Done<std::size_t> done) override { done(unused()); }
  void reschedule(const std::vector<omt::queue::RecordId>&, std::chrono::milliseconds, Done<std::size_t> done) override {
    done(unused());
  }
  void give_back(const std::vector<omt::queue::RecordId>&, Done<std::size_t> done) override { done(unused()); }
  void dead_letter(const std::vector<omt::queue::RecordId>&, const std::string&, Done<std::size_t> done) override {
    done(unused());
  }
  void hold_key(const std::string&, const std::string&, Done<void> done) override { done(unused()); }
  void unhold_key(const std::string&, Done<void> done) override { done(unused()); }
  void held_keys(Done<std::vector<omt::queue::HeldKey>> done) override { done(unused()); }
  void rekey(const std::string&, const std::string&, Done<std::size_t> done) override { done(unused()); }
  void release_key(const std::string&, const std::string&, Done<std::size_t> done) override { done(unused()); }
  void ready_partitions(std::uint64_t, Done<std::vector<omt::queue::ReadyPartition>> done) override { done(unused()); }
  void stats(Done<omt::queue::QueueStats> done) override { done(unused()); }
  std::uint64_t depth() const override { return 0; }
  std::uint64_t lane_depth(omt::queue::Lane) const override { return 0; }
  std::uint64_t high_water_mark() const override { return 1000; }
  void dead_letters(const omt::queue::DeadLetterSelection&, Done<std::vector<omt::queue::DeadRecord>> done) override {
    done(unused());
  }
  void replay(const omt::queue::DeadLetterSelection&, Done<std::size_t> done) override { done(unused()); }
  void purge(const omt::queue::DeadLetterSelection&, Done<std::size_t> done) override { done(unused()); }

 private:
  static tl::unexpected<omt::Error> unused() { return omt::fail(omt::errc::io, "not used by ingest"); }
  mutable std::mutex mutex_;
  std::vector<std::pair<std::vector<omt::queue::NewRecord>, EnqueueDone>> pending_;
};

TEST_F(IngestTest, TheAnswerWaitsForTheDurableAckAndAllRecordsGoInOneEnqueue) {
  ManualQueue queue;
  start(true, 1'000'000, {}, &queue);
  auto answer = std::async(std::launch::async, [&] {
    return post("/v1/batch", json{{"batch", json::array({identify(1), custom_event(2), identify(3)})}}.dump(), kWebBasic);
  });
  ASSERT_TRUE(omt::test::wait_until([&] { return queue.pending() == 1; }));
  // Not durable yet: no answer may have been sent.
  EXPECT_EQ(answer.wait_for(100ms), std::future_status::timeout);
  auto [records, done] = queue.take();
  ASSERT_EQ(records.size(), 3u);  // one enqueue for the whole request
  EXPECT_EQ(records[1].type, RecordType::custom_event);
  EXPECT_EQ(records[2].api_key, "key-web");
  EXPECT_EQ(notified_.load(), 0);
  done(std::vector<omt::queue::RecordId>{1, 2, 3});
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  const auto response = answer.get();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"accepted":3,"rejected":[]})");
  EXPECT_TRUE(omt::test::wait_until([&] { return notified_.load() == 1; }));
}

TEST_F(IngestTest, AQueueErrorIs503AndNothingIsAcknowledged) {
  ManualQueue queue;
  start(true, 1'000'000, {}, &queue);
  auto answer = std::async(std::launch::async, [&] { return post("/v1/identify", identify(1).dump(), kWebBasic); });
  ASSERT_TRUE(omt::test::wait_until([&] { return queue.pending() == 1; }));
  auto [records, done] = queue.take();
  done(omt::fail(omt::errc::io, "disk I/O error"));
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  const auto response = answer.get();
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.header("Retry-After"), "5");
  EXPECT_EQ(response.body.find("accepted"), std::string::npos);
  EXPECT_EQ(notified_.load(), 0);
}

TEST_F(IngestTest, ConcurrentRequestsAreEachStoredOnce) {
  start();
  constexpr int kClients = 4;
  constexpr int kRequests = 10;
  std::vector<std::future<int>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&, c] {
      auto client = server_->client();
      int ok = 0;
      for (int r = 0; r < kRequests; ++r) {
        const int n = c * 1000 + r;
        const auto response = client.post("/v1/batch", json{{"batch", json::array({identify(n), custom_event(n)})}}.dump(), kWebBasic);
        ok += response.status == 200 ? 1 : 0;
      }
      return ok;
    }));
  }
  for (auto& c : clients) EXPECT_EQ(c.get(), kRequests);
  const auto stored = records_in_queue_file();
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(2 * kClients * kRequests));
  std::set<std::string> ids;
  for (const auto& r : stored) ids.insert(json::parse(r.json)["id"].get<std::string>());
  EXPECT_EQ(ids.size(), stored.size());
}

}  // namespace
