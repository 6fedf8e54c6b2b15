// End to end through the real binary (`ometria-transformer serve --config`): events posted to the ingest routes
// (/v1/batch, /v1/identify, /v1/track with a write key; /v1/webhook with a bearer token or ?token=) for two
// sources with different Ometria keys arrive at the fake Ometria over TLS (a test CA made at test time) as exactly
// the records `transform` makes, grouped by (key, @type), at most 100 a push. What delivery promises holds when
// the binary is killed with SIGKILL under load, through an outage, and when Ometria refuses one key; and at trace
// level no log line shows a key, a write key, a webhook token, an e-mail address or a phone number.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "log_capture.hpp"
#include "omt/obs/log.hpp"
#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/ingest.hpp"
#include "running_binary.hpp"
#include "tls_fake_ometria.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using testing::FakeOmetriaOptions;
using testing::ReceivedRecord;
using testing::ScriptedAnswer;

// ---- sources and events ----------------------------------------------------------------------------------------

struct Source {
  std::string prefix;  // starts every record id of this source's events, so a record under the wrong key shows
  std::string write_key;
  std::string webhook_token;
  ometria::DestinationConfig destination;

  const std::string& api_key() const { return destination.api_key; }
  json config() const {
    json s = {{"name", prefix}, {"write_key", write_key}, {"webhook_token", webhook_token}, {"api_key", api_key()}};
    if (destination.marketing_optin) s["marketing_optin"] = *destination.marketing_optin;
    if (destination.allow_marketing) s["allow_marketing"] = *destination.allow_marketing;
    if (destination.allow_transactional) s["allow_transactional"] = *destination.allow_transactional;
    if (destination.collection) s["collection"] = *destination.collection;
    return s;
  }
  Headers basic() const { return {{"Authorization", basic_auth(write_key)}, {"Content-Type", "application/json"}}; }
  Headers bearer() const { return {{"Authorization", "Bearer " + webhook_token}, {"Content-Type", "application/json"}}; }
};

Source web_source() {
  Source s{"web", "wk-web-3c9f7a21", "tok-web-b81e44d0", {}};
  s.destination.api_key = "ometria-key-web-5f1c9e27d4";
  s.destination.marketing_optin = "EXPLICITLY_OPTEDIN";
  s.destination.allow_marketing = true;
  s.destination.allow_transactional = false;
  s.destination.collection = "web-shop";
  return s;
}

Source app_source() {
  Source s{"app", "wk-app-77d02e5b", "tok-app-0a6c93f8", {}};
  s.destination.api_key = "ometria-key-app-8b3d61f0e2";
  s.destination.marketing_optin = "NOT_SPECIFIED";
  return s;
}

std::string email_of(const std::string& prefix, int n) {
  return "shopper" + std::to_string(n) + "." + prefix + "@" + prefix + "-mailhost.example";
}
// UK numbers of the range set aside for drama (07700 900000-900999), written in a few layouts.
std::string phone_of(int n) {
  const std::string last = std::to_string(1000 + n % 1000).substr(1);
  switch (n % 3) {
    case 0: return "+44 7700 900" + last;
    case 1: return "+447700900" + last;
    default: return "07700 900 " + last;
  }
}

json identify_event(const std::string& prefix, int n) {
  return {{"type", "identify"},
          {"userId", prefix + "-user-" + std::to_string(n)},
          {"messageId", prefix + "-msg-i" + std::to_string(n)},
          {"traits", {{"email", email_of(prefix, n)}, {"firstName", "Ann"}, {"lastName", "Lee"}, {"phone", phone_of(n)}}},
          {"context", {{"traits", {{"listingId", prefix + "-contact-" + std::to_string(n)}, {"countryId", "GB"}}}}}};
}

// A custom event whose record id is "<prefix>-ev-<n>".
json custom_event(const std::string& prefix, int n) {
  return {{"type", "track"},
          {"event", "Wishlist Added"},
          {"userId", prefix + "-user-" + std::to_string(n)},
          {"messageId", prefix + "-msg-c" + std::to_string(n)},
          {"originalTimestamp", "2024-05-01T10:00:00Z"},
          {"context", {{"traits", {{"email", email_of(prefix, n)}, {"phone", phone_of(n)}}}}},
          {"properties", {{"event_id", prefix + "-ev-" + std::to_string(n)}, {"custom_fields", {{"sku", "SKU-" + std::to_string(n)}}}}}};
}

// An order whose record id is "<prefix>-order-<n>".
json order_event(const std::string& prefix, int n) {
  return {{"type", "track"},
          {"event", "Order Completed"},
          {"userId", prefix + "-user-" + std::to_string(n)},
          {"messageId", prefix + "-msg-o" + std::to_string(n)},
          {"originalTimestamp", "2024-05-01T10:05:00Z"},
          {"context", {{"traits", {{"email", email_of(prefix, n)}, {"firstName", "Ann"}, {"phone", phone_of(n)}}}}},
          {"properties",
           {{"order_id", prefix + "-order-" + std::to_string(n)},
            {"grand_total", 25.5},
            {"subtotal", 21.0},
            {"currency", "gbp"},
            {"products", json::array({{{"product_id", "p-1"}, {"sku", "SKU-1"}, {"quantity", 2}, {"unit_price", 10.5}}})}}}};
}

// The n-th event of a mixed stream: contacts, custom events and orders in turn.
json mixed_event(const std::string& prefix, int n) {
  switch (n % 3) {
    case 0: return identify_event(prefix, n);
    case 1: return custom_event(prefix, n);
    default: return order_event(prefix, n);
  }
}

// Events that can never succeed, each for its own reason.
json identify_without_email(int n) {
  return {{"type", "identify"}, {"userId", "nomail-" + std::to_string(n)}, {"traits", {{"firstName", "Nobody"}}}};
}
json page_event() { return {{"type", "page"}, {"userId", "u-page"}, {"name", "Home"}}; }
json order_without_currency(const std::string& prefix, int n) {
  json e = order_event(prefix, n);
  e["properties"].erase("currency");
  return e;
}

json batch_of(const std::vector<json>& events) { return {{"batch", events}}; }

// ---- what should arrive ----------------------------------------------------------------------------------------

// A record as (api key, canonical JSON): nlohmann's objects sort their keys, so key order does not matter.
using KeyedRecord = std::pair<std::string, std::string>;

// Runs every event through the Transformer (what `ometria-transformer transform` runs) with the source's settings:
// the answer the service should give for them, and the records it should deliver.
class Expectation {
 public:
  explicit Expectation(const ometria::Transformer& transformer) : transformer_(transformer) {}

  json add(const Source& source, const std::vector<json>& events) {
    json rejected = json::array();
    int accepted = 0;
    int skipped = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      // Calls Ometria has no record for are skipped by ingest before the Transformer sees them.
      const auto& skip = omt::protocol::skipped_call_types;
      if (events[i].contains("type") && std::find(std::begin(skip), std::end(skip), events[i]["type"].get<std::string>()) != std::end(skip)) {
        ++skipped;
        continue;
      }
      const std::string text = events[i].dump();
      simdjson::dom::element event;
      if (parser_.parse(text).get(event) != simdjson::SUCCESS) throw std::runtime_error("bad test event");
      // What the gateway stamp makes of it over loopback (the test events carry no sentAt: no time depends on
      // the arrival).
      const auto stamped = protocol::gateway_stamp(event, protocol::Arrival{std::chrono::system_clock::now(), "127.0.0.1", "", source.prefix});
      if (stamped && stamped_parser_.parse(*stamped).get(event) != simdjson::SUCCESS) throw std::runtime_error("bad stamp");
      auto record = transformer_.transform(event, source.destination);
      if (!record) {
        rejected.push_back({{"index", i}, {"error", record.error().message}});
        continue;
      }
      ++accepted;
      ++per_type_[std::string(ometria::to_string(record->type))];
      records_.insert({source.api_key(), json::parse(record->json).dump()});
    }
    json answer = {{"accepted", accepted}, {"rejected", rejected}};
    if (skipped > 0) answer["skipped"] = skipped;
    return answer;
  }

  const std::multiset<KeyedRecord>& records() const { return records_; }
  std::size_t count_of(const std::string& type) const { return per_type_.count(type) ? per_type_.at(type) : 0; }

 private:
  const ometria::Transformer& transformer_;
  simdjson::dom::parser parser_, stamped_parser_;
  std::multiset<KeyedRecord> records_;
  std::map<std::string, std::size_t> per_type_;
};

std::multiset<KeyedRecord> keyed(const std::vector<ReceivedRecord>& records) {
  std::multiset<KeyedRecord> out;
  for (const auto& r : records) out.insert({r.api_key, json::parse(r.json).dump()});
  return out;
}

// Every record id the fake accepted, fed from its on_push callback, so a test waits on a condition variable
// instead of copying the fake's records over and over.
class ReceivedIds {
 public:
  void add(const std::vector<ReceivedRecord>& records) {
    std::lock_guard lock(mutex_);
    for (const auto& r : records) {
      ids_.insert(r.id);
      ++per_key_[r.api_key];
    }
    changed_.notify_all();
  }
  // Waits until every id in `wanted` arrived; returns the ones still missing when `timeout` passed.
  std::set<std::string> wait_for(const std::set<std::string>& wanted, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return missing(wanted).empty(); });
    return missing(wanted);
  }
  std::size_t distinct() const {
    std::lock_guard lock(mutex_);
    return ids_.size();
  }
  std::size_t records_of(const std::string& key) const {
    std::lock_guard lock(mutex_);
    return per_key_.count(key) ? per_key_.at(key) : 0;
  }
  std::size_t count_of(const std::set<std::string>& wanted) const {
    std::lock_guard lock(mutex_);
    return wanted.size() - missing(wanted).size();
  }

 private:
  std::set<std::string> missing(const std::set<std::string>& wanted) const {
    std::set<std::string> out;
    for (const auto& id : wanted) {
      if (!ids_.count(id)) out.insert(id);
    }
    return out;
  }
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> ids_;
  std::map<std::string, std::size_t> per_key_;
};

std::string describe(const std::set<std::string>& ids) {
  std::string out = std::to_string(ids.size()) + " missing:";
  int shown = 0;
  for (const auto& id : ids) {
    if (++shown > 10) break;
    out += " " + id;
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The Transformer over the project's mappings, as the binary (and `ometria-transformer transform`) loads it.
const ometria::Transformer& project_transformer() {
  static const ometria::Transformer transformer = [] {
    auto loaded = ometria::Transformer::load(omt::test::project_mappings_dir());
    if (!loaded) throw std::runtime_error("cannot load the mappings: " + loaded.error().message);
    return std::move(*loaded);
  }();
  return transformer;
}

// ---- the fixture: the fake Ometria over TLS and the binary's config --------------------------------------------

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {web_.api_key(), app_.api_key()};
    options.threads = 2;
    options.on_push = [this](const testing::ReceivedPush&, const std::vector<ReceivedRecord>& records) {
      received_.add(records);
    };
    fake_ = std::make_unique<testing::TlsFakeOmetria>(dir_.path(), std::move(options));
  }

  std::string queue_path() const { return dir_.file("data/queue.db"); }

  // Time-compressed delivery to the fake with both sources; `overrides` is merged into it (JSON merge patch).
  std::string write_config(const json& overrides = json::object()) {
    json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
        {"queue", {{"path", queue_path()}, {"durability", "normal"}}},
        {"ometria", fake_->ometria_config({{"max_in_flight", 4}})},
        {"delivery",
         {{"requests_per_second", 0},
          {"linger", "20ms"},
          {"retry",
           {{"base_delay", "20ms"}, {"max_delay", "200ms"}, {"max_retry_after", "200ms"}, {"auth_probe_interval", "10m"}}}}},
        {"sources", json::array({web_.config(), app_.config()})},
    };
    config.merge_patch(overrides);
    const std::string path = dir_.file("config.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }

  std::unique_ptr<RunningBinary> start(const std::string& config_path, std::vector<std::string> extra_args = {}) {
    extra_args.insert(extra_args.begin(), {"--config", config_path});
    return std::make_unique<RunningBinary>(extra_args);
  }

  // Posts and checks the answer against the Transformer's verdict on the same events.
  void post_and_expect(HttpClient& client, const std::string& target, const std::string& body, const Headers& headers,
                       const Source& source, const std::vector<json>& events) {
    const json expected = expectation_.add(source, events);
    const auto response = client.post(target, body, headers);
    // 400 only for a body without an event object: a rejected event is kept, so it is answered 200 too.
    const bool any_event = std::any_of(events.begin(), events.end(), [](const json& e) { return e.is_object(); });
    const int expected_status = any_event ? 200 : 400;
    EXPECT_EQ(response.status, expected_status) << target << ": " << response.body;
    EXPECT_EQ(json::parse(response.body), expected) << target;
  }

  void stop_gracefully(RunningBinary& binary) {
    binary.child.signal(SIGTERM);
    EXPECT_EQ(binary.child.wait_exit(15s), 0) << binary.child.output();
  }

  std::size_t queue_depth() { return open_queue(queue_path())->depth(); }

  const Source web_ = web_source();
  const Source app_ = app_source();
  testing::TempDir dir_;
  ReceivedIds received_;  // before fake_: the fake's threads feed it until the fake is gone
  std::unique_ptr<testing::TlsFakeOmetria> fake_;
  Expectation expectation_{project_transformer()};
};

// ---- a: events in -> exactly the right records out ----------------------------------------------------------------

TEST_F(EndToEndTest, EventsThroughEveryIngestRouteArriveAsExactlyTheRecordsTransformMakesUnderTheirOwnKey) {
  auto binary = start(write_config());
  HttpClient client("127.0.0.1", binary->port);

  // /v1/batch with HTTP Basic: 240 mixed events of the web source with three that can never succeed among them.
  std::vector<json> web_batch;
  for (int n = 0; n < 240; ++n) web_batch.push_back(mixed_event(web_.prefix, n));
  web_batch.insert(web_batch.begin() + 10, identify_without_email(1));
  web_batch.insert(web_batch.begin() + 100, page_event());
  web_batch.insert(web_batch.begin() + 200, order_without_currency(web_.prefix, 9999));
  post_and_expect(client, "/v1/batch", batch_of(web_batch).dump(), web_.basic(), web_, web_batch);

  // /v1/identify and /v1/track with HTTP Basic: the app source, one event a request.
  for (int n = 0; n < 3; ++n) {
    post_and_expect(client, "/v1/identify", identify_event(app_.prefix, 1000 + n).dump(), app_.basic(), app_,
                    {identify_event(app_.prefix, 1000 + n)});
    post_and_expect(client, "/v1/track", custom_event(app_.prefix, 1000 + n).dump(), app_.basic(), app_,
                    {custom_event(app_.prefix, 1000 + n)});
    post_and_expect(client, "/v1/track", order_event(app_.prefix, 1000 + n).dump(), app_.basic(), app_,
                    {order_event(app_.prefix, 1000 + n)});
  }
  post_and_expect(client, "/v1/identify", identify_without_email(2).dump(), app_.basic(), app_,
                  {identify_without_email(2)});  // 200: nothing accepted, the event kept with its reason

  // /v1/webhook: one event with the web source's bearer token; an array with the app source's ?token=.
  post_and_expect(client, "/v1/webhook", order_event(web_.prefix, 5000).dump(), web_.bearer(), web_,
                  {order_event(web_.prefix, 5000)});
  std::vector<json> app_array;
  for (int n = 0; n < 150; ++n) app_array.push_back(mixed_event(app_.prefix, n));
  app_array.push_back(page_event());
  post_and_expect(client, "/v1/webhook?token=" + app_.webhook_token, json(app_array).dump(),
                  {{"Content-Type", "application/json"}}, app_, app_array);

  // Credentials in the wrong place or unknown store nothing.
  EXPECT_EQ(client.post("/v1/batch", batch_of({identify_event("x", 1)}).dump(), web_.bearer()).status, 401);
  EXPECT_EQ(client.post("/v1/webhook", identify_event("x", 2).dump(), web_.basic()).status, 401);
  EXPECT_EQ(client.post("/v1/track", custom_event("x", 3).dump(), Headers{{"Authorization", basic_auth("wk-unknown")}}).status,
            401);

  const auto& expected = expectation_.records();
  ASSERT_GT(expectation_.count_of("contact"), 100u);
  ASSERT_GT(expectation_.count_of("custom_event"), 50u);
  ASSERT_GT(expectation_.count_of("order"), 50u);
  ASSERT_TRUE(fake_->wait_for_records(expected.size(), kWait))
      << fake_->record_count() << " of " << expected.size() << "\n" << binary->child.output();
  stop_gracefully(*binary);  // no push can come after this, so an extra record would show below

  const auto records = fake_->records();
  EXPECT_EQ(keyed(records), expected) << "exactly the records `transform` makes, each under its source's key, once";
  for (const auto& r : records) {
    const Source& source = r.api_key == web_.api_key() ? web_ : app_;
    EXPECT_EQ(r.id.rfind(source.prefix + "-", 0), 0u) << r.id << " under the key of " << source.prefix;
  }
  for (const auto& push : fake_->pushes()) {
    EXPECT_LE(push.records, 100u);
    EXPECT_EQ(push.types.size(), 1u) << "one (key, @type) a push";
  }
  EXPECT_EQ(queue_depth(), 0u);
}

// ---- b: SIGKILL under load ------------------------------------------------------------------------------------

TEST_F(EndToEndTest, KilledWithSigkillUnderLoadAndRestartedItDeliversEveryAcknowledgedEvent) {
  fake_->set_delay(100ms);  // slow answers: records pile up in the queue
  const std::string config = write_config();
  auto binary = start(config);

  constexpr int kRequests = 400;
  constexpr int kEventsPerRequest = 50;
  std::mutex mutex;
  std::set<std::string> acknowledged;  // ids of the events in requests answered 200
  std::atomic<int> acknowledged_requests{0}, attempted_requests{0};
  std::atomic<bool> stop{false};
  std::thread client_thread([&, port = binary->port] {
    HttpClient client("127.0.0.1", port, 5s);
    for (int r = 0; r < kRequests && !stop; ++r) {
      std::vector<json> events;
      std::vector<std::string> ids;
      for (int k = 0; k < kEventsPerRequest; ++k) {
        const int n = r * kEventsPerRequest + k;
        // Every fifth event an order: two record types on the same key.
        const bool order = n % 5 == 0;
        events.push_back(order ? order_event(web_.prefix, n) : custom_event(web_.prefix, n));
        ids.push_back(web_.prefix + (order ? "-order-" : "-ev-") + std::to_string(n));
      }
      ++attempted_requests;
      try {
        const auto response = client.post("/v1/batch", batch_of(events).dump(), web_.basic());
        if (response.status == 200 && json::parse(response.body)["accepted"] == kEventsPerRequest) {
          std::lock_guard lock(mutex);
          acknowledged.insert(ids.begin(), ids.end());
          ++acknowledged_requests;
        }
      } catch (const HttpClientError&) {
        client.close();  // the binary was killed mid-request: not acknowledged
      }
    }
  });

  // Kill it once delivery is under way and the client has had plenty acknowledged.
  const bool under_way = eventually([&] { return acknowledged_requests >= 40 && received_.distinct() >= 200; });
  binary->child.signal(SIGKILL);
  const auto killed_status = binary->child.wait_exit(10s);
  const int attempted_at_kill = attempted_requests;
  std::set<std::string> acknowledged_at_kill;
  {
    std::lock_guard lock(mutex);
    acknowledged_at_kill = acknowledged;
  }
  const std::size_t delivered_at_kill = received_.count_of(acknowledged_at_kill);
  stop = true;
  client_thread.join();
  ASSERT_TRUE(under_way) << "acknowledged requests " << acknowledged_requests << ", delivered ids " << received_.distinct();
  ASSERT_EQ(killed_status, 128 + SIGKILL);
  ASSERT_LT(attempted_at_kill, kRequests) << "the kill must land while the client is still sending";
  ASSERT_LT(delivered_at_kill, acknowledged_at_kill.size()) << "the kill must land before delivery caught up";
  EXPECT_EQ(acknowledged, acknowledged_at_kill) << "nothing is acknowledged by a dead process";

  fake_->set_delay(0ms);
  auto restarted = start(config);
  const auto missing = received_.wait_for(acknowledged, 60s);
  EXPECT_TRUE(missing.empty()) << "of " << acknowledged.size() << " acknowledged events, " << describe(missing) << "\n"
                               << restarted->child.output();
  std::cout << "[ info     ] " << acknowledged.size() << " events acknowledged (" << acknowledged_requests
            << " requests), " << delivered_at_kill << " delivered when killed, " << fake_->record_count()
            << " records received in all (duplicates allowed)\n";
  stop_gracefully(*restarted);
  for (const auto& push : fake_->pushes()) {
    EXPECT_LE(push.records, 100u);
    EXPECT_EQ(push.types.size(), 1u);
  }
}

// ---- c: an outage --------------------------------------------------------------------------------------------

TEST_F(EndToEndTest, AnOutageOf5xxAndDroppedConnectionsLosesNothing) {
  // The outage: dropped connections (one after Ometria took the records: its answer is lost), then 500 and 502.
  ScriptedAnswer answer_lost;
  answer_lost.kind = ScriptedAnswer::Kind::accept_then_drop;
  fake_->script(ScriptedAnswer::dropped());
  fake_->script(answer_lost);
  fake_->script(ScriptedAnswer::dropped());
  fake_->script(ScriptedAnswer::with_status(503, "1"));
  fake_->set_key_status(web_.api_key(), 500);
  fake_->set_key_status(app_.api_key(), 502);
  auto binary = start(write_config());
  HttpClient client("127.0.0.1", binary->port);

  std::set<std::string> acknowledged;
  auto post_round = [&](int round) {
    for (const Source* source : {&web_, &app_}) {
      std::vector<json> events;
      for (int k = 0; k < 120; ++k) events.push_back(custom_event(source->prefix, round * 1000 + k));
      const auto response = client.post("/v1/batch", batch_of(events).dump(), source->basic());
      ASSERT_EQ(response.status, 200) << "ingest keeps accepting during the outage: " << response.body;
      for (int k = 0; k < 120; ++k) acknowledged.insert(source->prefix + "-ev-" + std::to_string(round * 1000 + k));
    }
  };
  post_round(0);
  // Retries go on through the outage (base delay 20 ms, at most 200 ms): wait for a good number of them.
  ASSERT_TRUE(fake_->wait_for_requests(16, kWait)) << fake_->request_count();
  post_round(1);
  ASSERT_TRUE(fake_->wait_for_requests(24, kWait)) << fake_->request_count();
  EXPECT_LE(received_.distinct(), 100u) << "only the push whose answer was lost got through during the outage";

  fake_->clear_key_status(web_.api_key());
  fake_->clear_key_status(app_.api_key());
  const auto missing = received_.wait_for(acknowledged, kWait);
  EXPECT_TRUE(missing.empty()) << describe(missing) << "\n" << binary->child.output();

  std::map<int, int> statuses;
  for (const auto& request : fake_->requests()) ++statuses[request.status];
  EXPECT_GE(statuses[0], 3) << "dropped connections";
  EXPECT_GE(statuses[500], 1);
  EXPECT_GE(statuses[502], 1);
  EXPECT_GE(statuses[503], 1);
  // The push whose answer was lost put its records at the fake early; they leave the queue only once their
  // retry is answered, which may come after every id has arrived.
  EXPECT_TRUE(eventually([&] {
    return client.get("/metrics").body.find("\nomt_queue_depth 0\n") != std::string::npos;
  })) << client.get("/metrics").body;
  stop_gracefully(*binary);
  EXPECT_EQ(queue_depth(), 0u) << "every record acknowledged by Ometria left the queue";
}

// ---- d: a 401 on one key does not slow the other -------------------------------------------------------------

TEST_F(EndToEndTest, A401OnOneKeyHoldsItsRecordsWhileTheOtherKeysRecordsFlowAtFullSpeed) {
  fake_->set_key_status(web_.api_key(), 401);
  auto binary = start(write_config({{"delivery", {{"retry", {{"auth_probe_interval", "500ms"}}}}}}));
  HttpClient client("127.0.0.1", binary->port);

  std::set<std::string> web_ids, app_ids;
  std::chrono::steady_clock::time_point last_app_post;
  for (int round = 0; round < 3; ++round) {
    for (const Source* source : {&web_, &app_}) {
      std::vector<json> events;
      for (int k = 0; k < 100; ++k) events.push_back(custom_event(source->prefix, round * 100 + k));
      ASSERT_EQ(client.post("/v1/batch", batch_of(events).dump(), source->basic()).status, 200);
      auto& ids = source == &web_ ? web_ids : app_ids;
      for (int k = 0; k < 100; ++k) ids.insert(source->prefix + "-ev-" + std::to_string(round * 100 + k));
      if (source == &app_) last_app_post = std::chrono::steady_clock::now();
    }
  }
  // The bound: 300 records of an unthrottled key take a few pushes of a few ms each; 3 s leaves room for a
  // loaded machine but not for waiting on the held key's probes (every 500 ms) or its backoff.
  const auto missing_app = received_.wait_for(app_ids, 3s);
  const auto app_took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - last_app_post);
  EXPECT_TRUE(missing_app.empty()) << describe(missing_app) << " after " << app_took.count() << " ms";
  std::cout << "[ info     ] the other key's 300 records arrived " << app_took.count()
            << " ms after its last request, while the first key was held\n";
  EXPECT_EQ(received_.records_of(web_.api_key()), 0u) << "the refused key's records are held, not accepted";

  // /health and /metrics name the held key by its fingerprint, never the key itself.
  const std::string fingerprint = obs::key_fingerprint(web_.api_key());
  HttpResponse health;
  ASSERT_TRUE(eventually([&] {
    health = client.get("/health");
    return health.body.find(fingerprint) != std::string::npos;
  })) << health.body;
  EXPECT_NE(health.body.find("HTTP 401"), std::string::npos) << health.body;
  const std::string metrics = client.get("/metrics").body;
  EXPECT_NE(metrics.find("omt_delivery_key_held{key=\"" + fingerprint + "\"} 1"), std::string::npos) << metrics;
  for (const auto* secret : {&web_.api_key(), &app_.api_key(), &web_.write_key, &web_.webhook_token}) {
    EXPECT_EQ(health.body.find(*secret), std::string::npos);
    EXPECT_EQ(metrics.find(*secret), std::string::npos);
  }

  // Held, never dropped: once Ometria takes the key again, the next probe lets every record through.
  fake_->clear_key_status(web_.api_key());
  const auto missing_web = received_.wait_for(web_ids, kWait);
  EXPECT_TRUE(missing_web.empty()) << describe(missing_web);
  EXPECT_TRUE(eventually([&] { return client.get("/health").body.find(fingerprint) == std::string::npos; }));
  stop_gracefully(*binary);
  EXPECT_EQ(binary->child.output().find(web_.api_key()), std::string::npos);
}

// ---- e: the logs of a whole delivery at trace level ----------------------------------------------------------

class EndToEndLogTest : public EndToEndTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(EndToEndLogTest, AtTraceLevelNoLogLineHoldsAKeyAWriteKeyATokenAnEmailOrAPhoneNumber) {
  Forbidden forbidden;
  forbidden.api_keys = {web_.api_key(), app_.api_key(), web_.write_key, app_.write_key, web_.webhook_token,
                        app_.webhook_token, "wk-unknown-61f0", "tok-unknown-93ab"};
  // Delivery's unhappy paths log too: a 500, a 429 with Retry-After, a dropped connection, a 401 then a probe.
  fake_->script(ScriptedAnswer::with_status(500));
  fake_->script(ScriptedAnswer::with_status(429, "1"));
  fake_->script(ScriptedAnswer::dropped());
  ScriptedAnswer refused = ScriptedAnswer::with_status(401);
  refused.only_for_key = app_.api_key();
  fake_->script(refused);
  auto binary = start(write_config({{"delivery", {{"retry", {{"auth_probe_interval", "300ms"}}}}}}),
                      {"--log-level", "trace", "--log-format", GetParam()});
  HttpClient client("127.0.0.1", binary->port);

  std::vector<json> web_events, app_events;
  for (int n = 0; n < 30; ++n) web_events.push_back(mixed_event(web_.prefix, n));
  for (int n = 0; n < 30; ++n) app_events.push_back(mixed_event(app_.prefix, n));
  for (int n = 0; n < 30; ++n) {
    forbidden.emails.push_back(email_of(web_.prefix, n));
    forbidden.emails.push_back(email_of(app_.prefix, n));
    forbidden.phones.push_back(phone_of(n));
  }
  forbidden.emails.push_back("broken.body@truncated-mailhost.example");

  post_and_expect(client, "/v1/batch", batch_of(web_events).dump(), web_.basic(), web_, web_events);
  post_and_expect(client, "/v1/identify", app_events[0].dump(), app_.basic(), app_, {app_events[0]});
  post_and_expect(client, "/v1/track", app_events[1].dump(), app_.basic(), app_, {app_events[1]});
  post_and_expect(client, "/v1/webhook", app_events[2].dump(), app_.bearer(), app_, {app_events[2]});
  const std::vector<json> rest(app_events.begin() + 3, app_events.end());
  post_and_expect(client, "/v1/webhook?token=" + app_.webhook_token, json(rest).dump(), {}, app_, rest);
  // Refusals and failures log too: unknown credentials, a dry run, a body that is not JSON, a rejected event.
  EXPECT_EQ(client.post("/v1/batch", batch_of(web_events).dump(), {{"Authorization", basic_auth("wk-unknown-61f0")}}).status, 401);
  EXPECT_EQ(client.post("/v1/webhook?token=tok-unknown-93ab", web_events[0].dump()).status, 401);
  EXPECT_EQ(client.post("/v1/identify?dry_run=true", web_events[0].dump(), web_.basic()).status, 200);
  EXPECT_EQ(client.post("/v1/webhook", R"({"traits":{"email":"broken.body@truncated-mailhost.example","phone":")" + phone_of(7),
                        web_.bearer()).status, 400);
  post_and_expect(client, "/v1/track", order_without_currency(app_.prefix, 3).dump(), app_.basic(), app_,
                  {order_without_currency(app_.prefix, 3)});
  // Health and metrics while a key may be held.
  EXPECT_EQ(client.get("/health").status, 200);
  EXPECT_EQ(client.get("/metrics").status, 200);

  ASSERT_TRUE(fake_->wait_for_records(expectation_.records().size(), kWait))
      << fake_->record_count() << " of " << expectation_.records().size() << "\n" << binary->child.output();
  stop_gracefully(*binary);

  const auto lines = lines_of(binary->child.output());
  const auto leaks = find_log_leaks(lines, forbidden);
  EXPECT_TRUE(leaks.empty()) << leaks.size() << " leaks, the first: " << leaks.front();
  // The scan looked at a real, verbose log of the whole path.
  const std::string all = binary->child.output();
  EXPECT_GT(lines.size(), 40u);
  EXPECT_NE(all.find("body:"), std::string::npos) << "trace logs request bodies (redacted)";
  EXPECT_NE(all.find("push delivered"), std::string::npos);
  EXPECT_NE(all.find("push failed"), std::string::npos);
  EXPECT_NE(all.find("refused key " + obs::key_fingerprint(app_.api_key())), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(LogFormats, EndToEndLogTest, ::testing::Values("text", "json"),
                         [](const auto& format) { return std::string(format.param); });

}  // namespace
}  // namespace omt::test
