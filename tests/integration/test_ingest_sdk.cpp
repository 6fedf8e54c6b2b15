// What the RudderStack / Segment SDKs send, through the real server into a real SqliteQueue. The RudderStack Node
// SDK (@rudderstack/rudder-sdk-node 3.0.13, its default options) sends every flush as
//   POST /v1/batch, Authorization: Basic base64("<write key>:"), Content-Encoding: gzip,
//   Content-Type: application/x-www-form-urlencoded (axios's default for a Buffer body: not JSON's type),
//   body gzip({"batch":[events],"timestamp":...,"sentAt":...}), each event with type, messageId, channel "server",
//   context.library, _metadata, originalTimestamp and sentAt;
// it counts any 2xx as delivered, retries network errors, 5xx and 429 (3 times, waiting at least Retry-After),
// and gives up on any other status. data/node_sdk/*.http are two such requests recorded byte for byte from the
// real SDK (tests/sdk/node_sdk_record.js); they are replayed here as they were sent. Also: gzip and deflate on
// every ingest route, 415 for other codings, 400 for corrupt data, 413 for a gzip bomb, and Segment's
// batch-level "context" merged into each event.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <map>
#include <set>

#include "compress.hpp"
#include "ingest_fixture.hpp"
#include "log_capture.hpp"
#include "recorded_request.hpp"

namespace {

using namespace omt::test::ingest;
using omt::test::gzip;
using omt::test::RawConnection;

using omt::test::RecordedRequest;

RecordedRequest recorded(const std::string& name) { return omt::test::recorded_request("node_sdk", name); }

// The Ometria records that `transform` makes of a /v1/batch body's events for the "web" source, once stamped as
// the test server stamps them (its fixed clock, a loopback peer), as (type, canonical JSON): nlohmann's objects
// sort their keys, so the comparison ignores key order.
std::multiset<std::pair<int, std::string>> expected_records(const std::string& batch_body) {
  const auto transformer = omt::test::load_transformer();
  const auto destination = sources()[0].destination;
  simdjson::dom::parser parser, stamped_parser;
  simdjson::dom::element root;
  if (parser.parse(batch_body).get(root) != simdjson::SUCCESS) throw std::runtime_error("batch is not JSON");
  std::multiset<std::pair<int, std::string>> out;
  for (simdjson::dom::element event : root["batch"].get_array()) {
    const auto stamped = omt::protocol::gateway_stamp(event, loopback_arrival());
    if (stamped && stamped_parser.parse(*stamped).get(event) != simdjson::SUCCESS) throw std::runtime_error("stamp is not JSON");
    auto record = transformer->transform(event, destination);
    if (!record) throw std::runtime_error("the recorded event does not transform: " + record.error().message);
    out.emplace(static_cast<int>(record->type), json::parse(record->json).dump());
  }
  return out;
}

std::multiset<std::pair<int, std::string>> as_set(const std::vector<QueuedRecord>& stored) {
  std::multiset<std::pair<int, std::string>> out;
  for (const auto& r : stored) out.emplace(static_cast<int>(r.type), json::parse(r.json).dump());
  return out;
}

// The headers the Node SDK sends (the server adds nothing to what the test sets but Host and Content-Length).
Headers node_sdk_headers(const std::string& write_key) {
  return {{"Accept", "application/json, text/plain, */*"},
          {"Content-Type", "application/x-www-form-urlencoded"},
          {"user-agent", "analytics-node/3.0.13"},
          {"Content-Encoding", "gzip"},
          {"Accept-Encoding", "gzip, compress, deflate, br"},
          {"Authorization", basic_auth(write_key)},
          {"Connection", "keep-alive"}};
}

// One event as the Node SDK's enqueue() shapes it.
json node_sdk_event(json message, const std::string& type, int n) {
  if (type == "identify" && message.contains("traits")) message["context"]["traits"] = message["traits"];
  message["type"] = type;
  message["context"]["library"] = {{"name", "analytics-node"}, {"version", "3.0.13"}};
  message["channel"] = "server";
  message["_metadata"] = {{"nodeVersion", "20.20.2"}};
  message["originalTimestamp"] = "2024-05-01T10:00:00.000Z";
  message["messageId"] = "3f1d6a2e-0000-4000-8000-" + std::to_string(100000000000 + n);
  message["sentAt"] = "2024-05-01T10:00:00.250Z";
  return message;
}

// The n-th event of a mixed stream: an identify, an "Order Completed" with products, a custom event.
json node_sdk_mixed_event(int n) {
  const std::string user = "sdk-user-" + std::to_string(n);
  const std::string email = "sdk" + std::to_string(n) + "@example.com";
  switch (n % 3) {
    case 0:
      return node_sdk_event({{"userId", user}, {"traits", {{"email", email}, {"firstName", "Ann"}, {"listingId", "sdk-contact-" + std::to_string(n)}}}},
                            "identify", n);
    case 1:
      return node_sdk_event({{"userId", user},
                             {"event", "Order Completed"},
                             {"context", {{"traits", {{"email", email}}}}},
                             {"properties",
                              {{"order_id", "sdk-order-" + std::to_string(n)},
                               {"grand_total", 25.5},
                               {"currency", "GBP"},
                               {"products", json::array({{{"product_id", "p-1"}, {"sku", "SKU-1"}, {"name", "Hat"}, {"unit_price", 12.75}, {"quantity", 2}}})}}}},
                            "track", n);
    default:
      return node_sdk_event({{"userId", user},
                             {"event", "Wishlist Added"},
                             {"context", {{"traits", {{"email", email}}}}},
                             {"properties", {{"event_id", "sdk-event-" + std::to_string(n)}, {"sku", "SKU-2"}}}},
                            "track", n);
  }
}

// A flush's body: {"batch":[...],"timestamp":...,"sentAt":...}.
json node_sdk_batch(const std::vector<json>& events) {
  return {{"batch", events}, {"timestamp", "2024-05-01T10:00:00.251Z"}, {"sentAt", "2024-05-01T10:00:00.251Z"}};
}

std::string error_of(const HttpResponse& response) { return json::parse(response.body).value("error", ""); }

class SdkIngestTest : public IngestTest {};

// ---- the real SDK's requests, replayed byte for byte -------------------------------------------------------------

TEST_F(SdkIngestTest, RecordedNodeSdkRequestsAreStoredAsTransformMakesThem) {
  start();
  const RecordedRequest first = recorded("first_flush.http");  // the SDK flushes its first event alone, at once
  const RecordedRequest batch = recorded("batch.http");        // then up to flushAt (20) events a request
  for (const auto* r : {&first, &batch}) {
    ASSERT_NE(r->head.find("\r\nContent-Encoding: gzip\r\n"), std::string::npos);
    ASSERT_NE(r->head.find("\r\nContent-Type: application/x-www-form-urlencoded\r\n"), std::string::npos);
    ASSERT_NE(r->head.find("\r\nAuthorization: Basic d2std2ViOg==\r\n"), std::string::npos);  // "wk-web:"
  }

  // Both on one keep-alive connection, as the SDK's HTTP agent sends them.
  RawConnection raw("127.0.0.1", server_->port());
  ASSERT_TRUE(raw.send(first.raw));
  const HttpResponse answer_first = omt::test::parse_response(raw.read_response(10s).data);
  EXPECT_EQ(answer_first.status, 200) << answer_first.body;
  EXPECT_EQ(answer_first.body, R"({"accepted":1,"rejected":[]})");
  ASSERT_TRUE(raw.send(batch.raw));
  const HttpResponse answer_batch = omt::test::parse_response(raw.read_response(10s).data);
  EXPECT_EQ(answer_batch.status, 200) << answer_batch.body;
  EXPECT_EQ(answer_batch.body, R"({"accepted":3,"rejected":[]})");

  const auto stored = records_in_queue_file();
  auto expected = expected_records(omt::test::gunzip(first.body));
  expected.merge(expected_records(omt::test::gunzip(batch.body)));
  EXPECT_EQ(as_set(stored), expected);

  // And what they are: two contacts, the order with its line item, the custom event.
  std::map<std::string, json> by_id;
  for (const auto& r : stored) {
    const json record = json::parse(r.json);
    by_id[record.value("id", record.value("@type", ""))] = record;
  }
  ASSERT_TRUE(by_id.count("cust-1")) << json(by_id).dump();
  EXPECT_EQ(by_id["cust-1"]["email"], "ann@example.com");
  EXPECT_EQ(by_id["cust-2"]["phone_number"], "+447911123456");
  ASSERT_TRUE(by_id.count("o-2"));
  EXPECT_EQ(by_id["o-2"]["@type"], "order");
  EXPECT_EQ(by_id["o-2"]["currency"], "GBP");
  ASSERT_EQ(by_id["o-2"]["lineitems"].size(), 1u);
  EXPECT_EQ(by_id["o-2"]["lineitems"][0]["product_id"], "p-1");
  EXPECT_EQ(by_id["o-2"]["lineitems"][0]["quantity"], 2);
  std::size_t custom_events = 0;
  for (const auto& r : stored) custom_events += r.type == RecordType::custom_event ? 1 : 0;
  EXPECT_EQ(custom_events, 1u);
}

// ---- the SDK's format, generated ---------------------------------------------------------------------------------

TEST_F(SdkIngestTest, FlushesOfTwentyGzippedEventsOnOneConnectionAreAllStored) {
  start();
  auto client = server_->client();
  constexpr int kFlushes = 6, kPerFlush = 20;
  std::multiset<std::pair<int, std::string>> expected;
  for (int f = 0; f < kFlushes; ++f) {
    std::vector<json> events;
    for (int i = 0; i < kPerFlush; ++i) events.push_back(node_sdk_mixed_event(f * kPerFlush + i));
    const std::string body = node_sdk_batch(events).dump();
    expected.merge(expected_records(body));
    const auto response = client.post("/v1/batch", gzip(body), node_sdk_headers("wk-web"));
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.body, R"({"accepted":20,"rejected":[]})");
    EXPECT_TRUE(response.keep_alive);
  }
  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), static_cast<std::size_t>(kFlushes * kPerFlush));
  EXPECT_EQ(as_set(stored), expected);
}

TEST_F(SdkIngestTest, GzipAndDeflateOnEveryIngestRoute) {
  start();
  json identify_event = identify(1);
  identify_event.erase("type");
  json track_event = custom_event(2);
  track_event.erase("type");
  struct Case {
    std::string target;
    std::string body;
    std::string encoding;
    Headers auth;
  };
  const std::string batch = json{{"batch", {identify(3), custom_event(4)}}}.dump();
  for (const auto& c : std::vector<Case>{
           {"/v1/identify", gzip(identify_event.dump()), "gzip", {{"Authorization", basic_auth("wk-web")}}},
           {"/v1/track", gzip(track_event.dump()), "x-gzip", {{"Authorization", basic_auth("wk-web")}}},
           {"/v1/batch", omt::test::compress(batch, omt::test::Wrapper::zlib), "deflate", {{"Authorization", basic_auth("wk-web")}}},
           {"/v1/batch", omt::test::compress(batch, omt::test::Wrapper::raw), "Deflate", {{"Authorization", basic_auth("wk-web")}}},
           {"/v1/webhook", gzip(json::array({identify(5)}).dump()), "GZIP", {{"Authorization", "Bearer tok-web"}}},
           {"/v1/batch", gzip(batch), "identity, gzip", {{"Authorization", basic_auth("wk-web")}}},
           {"/beacon/v1/batch?writeKey=wk-web", gzip(batch), "gzip", {}},
       }) {
    Headers headers = c.auth;
    headers.emplace_back("Content-Encoding", c.encoding);
    headers.emplace_back("Content-Type", "application/json");
    const auto response = post(c.target, c.body, headers);
    EXPECT_EQ(response.status, 200) << c.target << " " << c.encoding << ": " << response.body;
  }
  EXPECT_EQ(records_in_queue_file().size(), 11u);  // 1 + 1 + 2 + 2 + 1 + 2 + 2
}

TEST_F(SdkIngestTest, ADryRunReadsAGzipBodyToo) {
  start();
  const std::string body = node_sdk_batch({node_sdk_mixed_event(0), node_sdk_mixed_event(1)}).dump();
  const auto response = post("/v1/batch?dry_run=true", gzip(body), node_sdk_headers("wk-web"));
  ASSERT_EQ(response.status, 200) << response.body;
  const json answer = json::parse(response.body);
  EXPECT_EQ(answer["accepted"], 2);
  ASSERT_EQ(answer["batches"].size(), 2u);
  EXPECT_EQ(answer["batches"][0]["records"][0]["id"], "sdk-contact-0");
  EXPECT_EQ(answer["batches"][1]["records"][0]["id"], "sdk-order-1");
  EXPECT_TRUE(records_in_queue_file().empty());
}

// ---- what is refused -------------------------------------------------------------------------------------------

TEST_F(SdkIngestTest, OtherCodingsAre415WithAcceptEncodingAndStoreNothing) {
  start();
  const std::string body = json{{"batch", {identify(1)}}}.dump();
  for (const std::string encoding : {"br", "zstd", "compress", "gzip, gzip"}) {
    Headers headers = kWebBasic;
    headers.emplace_back("Content-Encoding", encoding);
    const auto response = post("/v1/batch", body, headers);
    EXPECT_EQ(response.status, 415) << encoding << ": " << response.body;
    EXPECT_EQ(response.header("Accept-Encoding"), "gzip, deflate");
    EXPECT_NE(error_of(response).find("Content-Encoding \"" + encoding + "\""), std::string::npos) << response.body;
    EXPECT_TRUE(response.keep_alive);
  }
  Headers brotli = kWebBasic;
  brotli.emplace_back("Content-Encoding", "br");
  EXPECT_EQ(error_of(post("/v1/identify", identify(1).dump(), brotli)),
            "Content-Encoding \"br\" is not supported: send the body as it is, or encoded with one of gzip, deflate");
  EXPECT_TRUE(records_in_queue_file().empty());
}

TEST_F(SdkIngestTest, DataThatIsNotInItsCodingIs400) {
  start();
  Headers headers = node_sdk_headers("wk-web");
  const std::string body = node_sdk_batch({node_sdk_mixed_event(0)}).dump();
  // Plain JSON labelled gzip.
  auto response = post("/v1/batch", body, headers);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(error_of(response), "Content-Encoding: gzip but the body is not valid gzip data: incorrect header check");
  // A gzip body cut short.
  const std::string compressed = gzip(body);
  response = post("/v1/batch", compressed.substr(0, compressed.size() - 10), headers);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(error_of(response),
            "Content-Encoding: gzip but the body is not valid gzip data: it ends before the end of the compressed stream");
  // gzip of something that is not JSON: the JSON error, as for a plain body.
  response = post("/v1/batch", gzip("{\"batch\":["), headers);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(error_of(response).rfind("Invalid JSON at byte", 0), 0u) << response.body;
  EXPECT_TRUE(records_in_queue_file().empty());
}

TEST_F(SdkIngestTest, AGzipBombIs413AndTheConnectionStaysUsable) {
  omt::protocol::IngestLimits limits;
  limits.max_decoded_body_bytes = 1u << 20;
  start(true, 1'000'000, limits);
  auto client = server_->client();
  const std::string bomb = omt::test::gzip_bomb(64u << 20);  // 64 MiB in about 64 KiB
  auto response = client.post("/v1/batch", bomb, node_sdk_headers("wk-web"));
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(error_of(response), "Request body exceeds 1048576 bytes once decompressed (Content-Encoding: gzip)");
  // The next flush on the same connection goes through.
  response = client.post("/v1/batch", gzip(node_sdk_batch({node_sdk_mixed_event(0)}).dump()), node_sdk_headers("wk-web"));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(records_in_queue_file().size(), 1u);
}

TEST_F(SdkIngestTest, AnUnknownWriteKeyIs401BeforeTheBodyIsDecoded) {
  omt::protocol::IngestLimits limits;
  limits.max_decoded_body_bytes = 1u << 20;
  start(true, 1'000'000, limits);
  // A bomb under a wrong key is never inflated: 401 (the SDK gives up; it retries only 5xx, 429 and network errors).
  const auto response = post("/v1/batch", omt::test::gzip_bomb(64u << 20), node_sdk_headers("wk-unknown"));
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.header("WWW-Authenticate"), R"(Basic realm="ometria-transformer")");
  EXPECT_EQ(error_of(response), "Unknown write key");
}

TEST_F(SdkIngestTest, OverTheHighWaterMarkAGzipFlushGets429WithRetryAfter) {
  start(true, /*high_water_mark=*/1);
  const auto sdk = node_sdk_headers("wk-web");
  auto response = post("/v1/batch", gzip(node_sdk_batch({node_sdk_mixed_event(0)}).dump()), sdk);
  ASSERT_EQ(response.status, 200) << response.body;
  // The SDK's axios-retry waits max(its backoff, Retry-After) and sends the same flush again, three times at most.
  response = post("/v1/batch", gzip(node_sdk_batch({node_sdk_mixed_event(3)}).dump()), sdk);
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.header("Retry-After"), "5");
  EXPECT_EQ(records_in_queue_file().size(), 1u);
}

TEST_F(SdkIngestTest, TraceLogsShowTheDecodedBodyRedactedNeverTheCompressedBytes) {
  // Compressed bytes pass redaction untouched (and could be inflated from the log): the server logs only their
  // size, and the ingest route the decoded body, redacted.
  std::vector<std::string> lines;
  {
    omt::test::LogCapture capture({"trace", omt::obs::LogFormat::text, /*log_pii=*/false});
    start();
    const json body = node_sdk_batch({node_sdk_event(
        {{"userId", "u-log"}, {"traits", {{"email", "trace.person@mailhost.example"}, {"listingId", "c-log"}}}},
        "identify", 1)});
    const std::string compressed = gzip(body.dump());
    const auto response = post("/v1/batch", compressed, node_sdk_headers("wk-web"));
    ASSERT_EQ(response.status, 200) << response.body;
    stop_server_and_queue();
    lines = capture.lines();
    bool size_line = false, decoded_line = false;
    for (const auto& line : lines) {
      size_line = size_line || line.find("POST /v1/batch body: " + std::to_string(compressed.size()) +
                                         " bytes, Content-Encoding gzip") != std::string::npos;
      decoded_line = decoded_line || (line.find("ingest: decoded body: ") != std::string::npos &&
                                      line.find("<email>") != std::string::npos);
      // gzip's first byte, raw or as the log's escapes would write it.
      for (const std::string& magic : {std::string(1, '\x1f'), std::string("\\x1f"), std::string("\\u001f")})
        EXPECT_EQ(line.find(magic), std::string::npos) << line;
    }
    EXPECT_TRUE(size_line);
    EXPECT_TRUE(decoded_line);
  }
  const auto leaks = omt::test::find_log_leaks(lines, {{"key-web"}, {"trace.person@mailhost.example"}, {}});
  EXPECT_TRUE(leaks.empty()) << leaks.front();
}

// ---- Segment's batch-level "context" and "integrations" --------------------------------------------------------

TEST_F(SdkIngestTest, BatchLevelContextIsMergedIntoEachEventThatLacksIt) {
  start();
  json without_context = custom_event(1);
  without_context.erase("context");
  json own_email = custom_event(2);
  own_email["context"] = {{"traits", {{"email", "own@example.com"}}}, {"ip", "10.0.0.2"}};
  json context_without_traits = custom_event(3);
  context_without_traits["context"] = {{"ip", "10.0.0.3"}};
  json order = custom_event(4);
  order.erase("context");
  order["event"] = "Order Completed";
  order["properties"] = {{"order_id", "o-4"}, {"grand_total", 9.5}, {"currency", "EUR"}};
  // The Segment HTTP API's shape: batch-level context and integrations (and a writeKey, ignored: Basic auth is used).
  const json body = {{"batch", {without_context, own_email, context_without_traits, order}},
                     {"context", {{"traits", {{"email", "batch@example.com"}}}, {"ip", "10.0.0.1"}}},
                     {"integrations", {{"All", true}}},
                     {"writeKey", "ignored"}};
  const auto response = post("/v1/batch", gzip(body.dump()), node_sdk_headers("wk-web"));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":4,"rejected":[]})");

  std::map<std::string, json> by_id;
  for (const auto& r : records_in_queue_file()) {
    const json record = json::parse(r.json);
    by_id[record["id"].get<std::string>()] = record;
  }
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id["m1"]["identity_email"], "batch@example.com");
  EXPECT_EQ(by_id["m2"]["identity_email"], "own@example.com");  // the event's own context.traits wins
  EXPECT_EQ(by_id["m3"]["identity_email"], "batch@example.com");
  EXPECT_EQ(by_id["o-4"]["customer"]["email"], "batch@example.com");
  EXPECT_EQ(by_id["o-4"]["ip_address"], "10.0.0.1");  // context.ip, from the batch level
}

TEST_F(SdkIngestTest, ABatchLevelContextThatIsNotAnObjectIs400NamingIt) {
  start();
  const json body = {{"batch", {identify(1)}}, {"context", "web"}};
  const auto response = post("/v1/batch", body.dump(), kWebBasic);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(error_of(response),
            R"(Expected "context" beside "batch" to be an object (it is merged into each event), got string)");
  EXPECT_TRUE(records_in_queue_file().empty());
}

}  // namespace
