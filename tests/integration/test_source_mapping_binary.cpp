// A source's own mapping (docs/sources.md) through the real binary to the fake Ometria: what a stock SDK app sends
// (an identify without any listingId, as the RudderStack Node SDK shapes it) arrives as a contact with the source's
// contact id and namespaces, and a catalogue row sent as a Reverse-ETL-style track arrives as a product, in a push
// of its own; a stock update as a @merge without attributes; an incomplete product is counted and logged.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using testing::FakeOmetria;
using testing::FakeOmetriaOptions;
using testing::ReceivedRecord;

constexpr const char* kApiKey = "ometria-key-catalogue-1f2e3d";
constexpr const char* kWriteKey = "wk-shop-5a6b7c";

// The Node SDK's shape of an event (tests/integration/test_ingest_sdk.cpp has the recorded original).
json sdk_event(json message, const std::string& type, int n) {
  if (type == "identify" && message.contains("traits")) message["context"]["traits"] = message["traits"];
  message["type"] = type;
  message["context"]["library"] = {{"name", "analytics-node"}, {"version", "3.0.13"}};
  message["channel"] = "server";
  message["originalTimestamp"] = "2024-05-01T10:00:00.000Z";
  message["messageId"] = "msg-" + std::to_string(n);
  return message;
}

TEST(SourceMappingBinary, StockSdkContactsAndCatalogueProductsArriveAsOmetriaRecords) {
  testing::TempDir dir;
  FakeOmetriaOptions options;
  options.keys = {kApiKey};
  FakeOmetria fake(std::move(options));
  const json config = {
      {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
      {"queue", {{"path", dir.file("queue.db")}, {"durability", "normal"}}},
      {"ometria", {{"endpoint", fake.url()}, {"allow_plain_http", true}}},
      {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}}},
      {"sources", json::array({{{"name", "shop"}, {"write_key", kWriteKey}, {"api_key", kApiKey},
                                {"marketing_optin", "NOT_SPECIFIED"},
                                {"namespaces", {{"customer", "eu_"}, {"product", "cat-"}, {"order", "eu_"}}}}})},
  };
  TempConfig file(config);
  RunningBinary binary({"--config", file.path.string()});
  HttpClient client("127.0.0.1", binary.port);

  const json batch = {{"batch", json::array({
      // An identify from an ordinary SDK app: no listingId, no Ometria-specific traits.
      sdk_event({{"userId", "user-7"}, {"anonymousId", "anon-7"}, {"traits", {{"email", "ann@example.com"}, {"firstName", "Ann"}}}},
                "identify", 1),
      // A warehouse row as Reverse ETL sends it: a track with the chosen name, the columns as properties.
      sdk_event({{"userId", "reverse-etl"}, {"event", "Product Updated"},
                 {"properties", {{"product_id", "P-1"}, {"title", "Linen shirt"}, {"price", 49.5}, {"currency", "GBP"},
                                 {"url", "https://shop.example/p/1"}, {"is_active", true},
                                 {"attributes", json::array({{{"type", "category"}, {"id", "shirts"}, {"label", "Shirts"}}})}}}},
                "track", 2),
      sdk_event({{"userId", "reverse-etl"}, {"event", "Product Out Of Stock"},
                 {"properties", {{"product_id", "P-1"}, {"attributes", json::array({{{"type", "colour"}, {"id", "red"}}})}}}},
                "track", 3),
      sdk_event({{"userId", "reverse-etl"}, {"event", "Product Created"}, {"properties", {{"product_id", "P-2"}, {"name", "Scarf"}}}},
                "track", 4),
  })}};
  const auto response = client.post("/v1/batch", batch.dump(), {{"Authorization", basic_auth(kWriteKey)},
                                                                  {"Content-Type", "application/json"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body), json::parse(R"({"accepted":4,"rejected":[]})"));

  ASSERT_TRUE(eventually([&] { return fake.records().size() >= 4; })) << binary.child.output();
  const auto records = fake.records();
  ASSERT_EQ(records.size(), 4u);
  std::map<std::string, std::vector<ReceivedRecord>> by_type;
  for (const auto& r : records) {
    EXPECT_EQ(r.api_key, kApiKey);
    by_type[r.type].push_back(r);
  }
  ASSERT_EQ(by_type["contact"].size(), 1u);
  ASSERT_EQ(by_type["product"].size(), 3u);

  // Field by field against OMETRIA_RECORDS.md: the listing id is the userId, both ids in the customer namespace.
  EXPECT_EQ(json::parse(by_type["contact"][0].json),
            json::parse(R"({"email":"ann@example.com","id":"eu_user-7","customer_id":"eu_user-7","firstname":"Ann",
                            "@type":"contact","marketing_optin":"NOT_SPECIFIED","channels":{"sms":{}}})"));
  EXPECT_EQ(json::parse(by_type["product"][0].json),
            json::parse(R"({"@type":"product","id":"cat-P-1","title":"Linen shirt","price":49.5,"currency":"GBP",
                            "url":"https://shop.example/p/1","is_active":true,
                            "attributes":[{"type":"category","id":"shirts","label":"Shirts"}]})"));
  EXPECT_EQ(json::parse(by_type["product"][1].json),
            json::parse(R"({"@type":"product","id":"cat-P-1","is_in_stock":false,"@merge":true})"));
  EXPECT_EQ(json::parse(by_type["product"][2].json), json::parse(R"({"@type":"product","id":"cat-P-2","title":"Scarf"})"));
  // Products go in pushes of their own, as every type does.
  for (const auto& product : by_type["product"]) EXPECT_NE(product.push, by_type["contact"][0].push);

  // The incomplete product was counted and logged, once.
  const auto metrics = client.get("/metrics");
  EXPECT_NE(metrics.body.find("omt_products_incomplete_total 1"), std::string::npos) << metrics.body;
  const std::string output = binary.child.output();
  EXPECT_NE(output.find("source shop: product cat-P-2 is sent without price, url, is_active"), std::string::npos) << output;
}

}  // namespace
}  // namespace omt::test
