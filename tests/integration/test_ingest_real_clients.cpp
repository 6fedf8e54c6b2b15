// The requests of real clients, recorded byte for byte, replayed through the real binary (`serve`) to a fake
// Ometria, and what arrives there checked field by field:
//   data/browser_sdk/: RudderStack's JavaScript SDK (@rudderstack/analytics-js 3.34.1, bundled build) in headless
//     Chromium, on a page of another origin (tests/sdk/browser_sdk_check.sh --record): a CORS preflight before the
//     first POST to each path, then one POST /v1/<type> per call with Basic auth, a base64 AnonymousId header,
//     SentAt and Content-Type application/json;charset=UTF-8: identify, track "Wishlist Added", page, track
//     "Order Completed"; then, with load option useBeacon, navigator.sendBeacon's POST /beacon/v1/batch?writeKey=
//     (text/plain, no preflight, the page's cookies along) of an identify and an "Order Completed";
//   data/segment_node/: Segment's @segment/analytics-node 3.1.0 (tests/sdk/node_sdk_record.js --sdk segment): one
//     plain JSON POST /v1/batch of identify x2, "Order Completed", "Wishlist Added" and a page call, with
//     "writeKey" and "sentAt" beside "batch".
// Answers are checked for what the SDKs act on (the status, and the CORS header the browser needs to let the SDK
// read it). The records' "timestamp" and "ip_address" are left out of the comparison: the service may stamp them
// on arrival (rudder-server's gateway rules), so they depend on when and from where the replay is sent.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "fake_ometria.hpp"
#include "http_client.hpp"
#include "recorded_request.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kApiKey = "ometria-key-real-clients";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(lower(item));
  }
  return out;
}

// The binary serving one source, "wk-web" (the write key the clients were recorded with), whose pages may be on
// `origin`, delivering to an in-process fake Ometria over plain HTTP.
class RealClientsReplayTest : public ::testing::Test {
 protected:
  void start(const std::string& origin) {
    testing::FakeOmetriaOptions options;
    options.keys = {kApiKey};
    fake_ = std::make_unique<testing::FakeOmetria>(std::move(options));
    json source = {{"name", "shop"}, {"write_key", "wk-web"}, {"api_key", kApiKey}};
    if (!origin.empty()) source["allowed_origins"] = {origin};
    const json config = {
        {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}}},
        {"queue", {{"path", dir_.file("queue.db")}}},
        {"ometria", {{"endpoint", fake_->url()}, {"allow_plain_http", true}}},
        {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}}},
        {"sources", json::array({source})},
    };
    config_ = std::make_unique<TempConfig>(config);
    binary_ = std::make_unique<RunningBinary>(std::vector<std::string>{"--config", config_->path.string()});
  }

  // Sends a recorded request as it is, on the connection, and reads the answer.
  HttpResponse replay(RawConnection& connection, const RecordedRequest& request) {
    EXPECT_TRUE(connection.send(request.raw));
    return parse_response(connection.read_response(10s).data);
  }

  // The records at the fake by id, once `count` arrived, without the fields stamped on arrival.
  std::map<std::string, json> records_by_id(std::size_t count) {
    EXPECT_TRUE(fake_->wait_for_records(count, 20s)) << fake_->record_count() << " records of " << count;
    std::map<std::string, json> out;
    for (const auto& r : fake_->records()) {
      EXPECT_EQ(r.api_key, kApiKey);
      json record = json::parse(r.json);
      EXPECT_TRUE(record.contains("@type")) << r.json;
      if (record.value("@type", "") != "contact") {
        EXPECT_TRUE(record.contains("timestamp") && record["timestamp"].is_string()) << r.json;
      }
      record.erase("timestamp");
      if (record.contains("ip_address")) {
        EXPECT_EQ(record["ip_address"], "127.0.0.1") << r.json;
      }
      record.erase("ip_address");
      EXPECT_TRUE(out.emplace(r.id, record).second) << "two records with id " << r.id;
    }
    EXPECT_EQ(out.size(), count);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::FakeOmetria> fake_;
  std::unique_ptr<TempConfig> config_;
  std::unique_ptr<RunningBinary> binary_;
};

// ---- RudderStack's JavaScript SDK in Chromium ------------------------------------------------------------------

TEST_F(RealClientsReplayTest, TheBrowserSdksPreflightsCallsAndBeaconAreAnsweredForItsOriginAndArriveAsTheirRecords) {
  const std::vector<std::string> in_order = {"preflight_identify", "identify",           "preflight_track",
                                             "track_wishlist_added", "preflight_page", "page",
                                             "track_order_completed", "beacon_batch"};
  std::vector<RecordedRequest> requests;
  for (const auto& name : in_order) requests.push_back(recorded_request("browser_sdk", name + ".http"));
  // The page's origin, as the browser sent it (the recording's page server had a port of its own).
  const std::string origin = requests.front().header("Origin");
  ASSERT_EQ(origin.rfind("http://127.0.0.1:", 0), 0u) << origin;
  for (const auto& r : requests) ASSERT_EQ(r.header("Origin"), origin) << r.head;
  start(origin);

  RawConnection connection("127.0.0.1", binary_->port);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& request = requests[i];
    const HttpResponse answer = replay(connection, request);
    SCOPED_TRACE(in_order[i] + ": " + answer.body);
    EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), origin);
    EXPECT_EQ(answer.header("Access-Control-Allow-Credentials"), "");
    if (request.head.rfind("OPTIONS ", 0) == 0) {
      EXPECT_EQ(answer.status, 204);
      // Every header the SDK asked for is allowed (Access-Control-Allow-Headers is compared without case).
      const auto allowed = comma_list(answer.header("Access-Control-Allow-Headers"));
      const auto asked = comma_list(request.header("Access-Control-Request-Headers"));
      ASSERT_FALSE(asked.empty());
      for (const auto& header : asked) EXPECT_NE(std::find(allowed.begin(), allowed.end(), header), allowed.end()) << header;
      EXPECT_NE(answer.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
      continue;
    }
    ASSERT_EQ(answer.status, 200);  // the SDK counts 200-399 as delivered, drops the event on other 4xx
    const json body = json::parse(answer.body);
    if (in_order[i] == "beacon_batch") {
      EXPECT_EQ(request.header("Content-Type"), "text/plain");
      EXPECT_EQ(request.header("Authorization"), "");
      EXPECT_EQ(body.value("accepted", -1), 2);  // read by nobody: the SDK never looks at a beacon's answer
      continue;
    }
    EXPECT_EQ(request.header("Content-Type"), "application/json;charset=UTF-8");
    EXPECT_EQ(request.header("Authorization"), basic_auth("wk-web"));
    EXPECT_FALSE(request.header("AnonymousId").empty());
    if (in_order[i] == "page") {
      EXPECT_EQ(body.value("accepted", -1), 0);
      EXPECT_EQ(body.value("skipped", -1), 1);
    } else {
      EXPECT_EQ(body.value("accepted", -1), 1);
    }
  }

  auto records = records_by_id(5);
  EXPECT_EQ(records["contact-browser-1"],
            json::parse(R"({"@type":"contact","email":"ann.browser@example.com","id":"contact-browser-1",
                            "customer_id":"u-browser-1","firstname":"Ann","lastname":"Lee",
                            "phone_number":"+447911123456","timezone":"GMT+0000","channels":{"sms":{}}})"));
  EXPECT_EQ(records["event-browser-1"],
            json::parse(R"({"@type":"custom_event","id":"event-browser-1","event_type":"wishlist added",
                            "identity_email":"ann.browser@example.com","identity_account_id":"u-browser-1",
                            "properties":{"sku":"SKU-1","colour":"red"}})"));
  EXPECT_EQ(records["order-browser-1"],
            json::parse(R"({"@type":"order","id":"order-browser-1","status":"complete","is_valid":true,
                            "grand_total":25.5,"subtotal":21,"discount":0,"shipping":4.5,"currency":"GBP",
                            "coupon_code":"WELCOME",
                            "customer":{"id":"u-browser-1","email":"ann.browser@example.com","firstname":"Ann","lastname":"Lee"},
                            "lineitems":[{"product_id":"p-1","sku":"SKU-1","quantity":2,"unit_price":10.5,
                                          "properties":{"name":"Hat"}}]})"));
  // The beacon's: the contact's id from identify's integrations.Ometria.listingId.
  EXPECT_EQ(records["contact-browser-2"],
            json::parse(R"({"@type":"contact","email":"bob.browser@example.com","id":"contact-browser-2",
                            "customer_id":"u-browser-2","firstname":"Bob","timezone":"GMT+0000","channels":{"sms":{}}})"));
  EXPECT_EQ(records["order-browser-2"],
            json::parse(R"({"@type":"order","id":"order-browser-2","status":"complete","is_valid":true,
                            "grand_total":12,"currency":"EUR",
                            "customer":{"id":"u-browser-2","email":"bob.browser@example.com","firstname":"Bob"},
                            "lineitems":[{"product_id":"p-2","sku":"SKU-2","quantity":2,"unit_price":6}]})"));
}

TEST_F(RealClientsReplayTest, TheBrowserSdksCallsFromAnOriginTheSourceDoesNotAllowGetNoCorsHeaders) {
  start("https://shop.example");
  RawConnection connection("127.0.0.1", binary_->port);
  const HttpResponse preflight = replay(connection, recorded_request("browser_sdk", "preflight_identify.http"));
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "");  // the browser stops here: the SDK sends nothing
  // Sent anyway (not by a browser), it is stored, and the answer still withholds the origin.
  const HttpResponse answer = replay(connection, recorded_request("browser_sdk", "identify.http"));
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "");
}

// ---- Segment's Node SDK ------------------------------------------------------------------------------------------

TEST_F(RealClientsReplayTest, SegmentsNodeSdkBatchIsStoredAndArrivesAsItsRecords) {
  const RecordedRequest batch = recorded_request("segment_node", "batch.http");
  EXPECT_EQ(batch.head.rfind("POST /v1/batch HTTP/1.1\r\n", 0), 0u);
  EXPECT_EQ(batch.header("Content-Type"), "application/json");
  EXPECT_EQ(batch.header("Authorization"), basic_auth("wk-web"));
  EXPECT_EQ(batch.header("Content-Encoding"), "");  // plain JSON: this SDK does not compress
  start("");

  RawConnection connection("127.0.0.1", binary_->port);
  const HttpResponse answer = replay(connection, batch);
  ASSERT_EQ(answer.status, 200) << answer.body;  // the SDK counts 200-399 as delivered, drops the batch on a 400
  const json body = json::parse(answer.body);
  EXPECT_EQ(body.value("accepted", -1), 4) << answer.body;
  EXPECT_EQ(body.value("skipped", -1), 1) << answer.body;  // the page call

  // "Wishlist Added" has no event_id: its record's id is the event's messageId, as the SDK made it.
  const json sent = json::parse(batch.body);
  const std::string wishlist_id = sent["batch"][3]["messageId"];
  ASSERT_EQ(sent["batch"][3]["event"], "Wishlist Added");
  auto records = records_by_id(4);
  EXPECT_EQ(records["cust-1"], json::parse(R"({"@type":"contact","id":"cust-1","email":"ann@example.com",
                                               "customer_id":"u-1","firstname":"Ann","lastname":"Lee",
                                               "channels":{"sms":{}}})"));
  EXPECT_EQ(records["cust-2"], json::parse(R"({"@type":"contact","id":"cust-2","email":"bob@example.com",
                                               "customer_id":"u-2","phone_number":"+447911123456",
                                               "channels":{"sms":{}}})"));
  EXPECT_EQ(records["o-2"], json::parse(R"({"@type":"order","id":"o-2","status":"complete","is_valid":true,
                                            "grand_total":25.5,"subtotal":20,"currency":"GBP",
                                            "customer":{"id":"u-2","email":"bob@example.com"},
                                            "lineitems":[{"product_id":"p-1","sku":"SKU-1","quantity":2,
                                                          "unit_price":10,"properties":{"name":"Hat"}}]})"));
  json wishlist = json::parse(R"({"@type":"custom_event","event_type":"wishlist added",
                                  "identity_email":"bob@example.com","identity_account_id":"u-2",
                                  "properties":{"sku":"SKU-1","colour":"red"}})");
  wishlist["id"] = wishlist_id;
  EXPECT_EQ(records[wishlist_id], wishlist);
}

}  // namespace
}  // namespace omt::test
