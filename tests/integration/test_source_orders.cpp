// A source with the order lifecycle, through the real binary (`serve --config`) to the fake Ometria over TLS: a
// Shopify-like sequence of order events as a stock SDK sends them (RudderStack's e-commerce names: total, products
// with price; no Ometria-specific fields) arrives as pushes of one order record each, merged (@merge) into order
// 1001 with the lifecycle's statuses, read field by field against ../shared/OMETRIA_RECORDS.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>

#include "fake_ometria.hpp"
#include "http_client.hpp"
#include "running_binary.hpp"
#include "tls_fake_ometria.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

json shopify_like(const std::string& event, json extra_properties = json::object()) {
  json properties = {{"order_id", "1001"}, {"total", 30}, {"currency", "GBP"},
                     {"products", json::array({{{"product_id", "P1"}, {"sku", "P1-S"}, {"price", 15}, {"quantity", 2}}})}};
  properties.merge_patch(extra_properties);
  return {{"type", "track"}, {"event", event}, {"userId", "u1"}, {"originalTimestamp", "2024-05-01T10:00:00Z"},
          {"context", {{"traits", {{"email", "ann@example.com"}}}}}, {"properties", properties}};
}

TEST(SourceOrders, ShopifyLikeCreatedPaidRefundedArriveAsMergedUpdatesOfOneOrder) {
  testing::TempDir dir;
  testing::FakeOmetriaOptions options;
  options.keys = {"ometria-key-shop-4d2a"};
  testing::TlsFakeOmetria fake(dir.path(), std::move(options));

  const json config = {
      {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
      {"queue", {{"path", dir.file("queue.db")}, {"durability", "normal"}}},
      {"ometria", fake.ometria_config()},
      {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}}},
      {"sources", json::array({{{"name", "shop"}, {"write_key", "wk-shop-91c3"}, {"api_key", "ometria-key-shop-4d2a"},
                                {"order_lifecycle", true}, {"valid_order_statuses", {"pending", "paid", "refunded"}}}})},
  };
  std::ofstream(dir.file("config.json")) << config.dump(2);
  RunningBinary binary({"--config", dir.file("config.json")});
  HttpClient client("127.0.0.1", binary.port);
  const Headers auth = {{"Authorization", basic_auth("wk-shop-91c3")}, {"Content-Type", "application/json"}};

  const json events[] = {
      shopify_like("Order Created"),
      shopify_like("Order Paid", {{"payment_method", "card"}}),
      shopify_like("Order Refunded", {{"total_refunded", 15},
                                      {"products", json::array({{{"product_id", "P1"}, {"sku", "P1-S"}, {"price", 15},
                                                                 {"quantity", 2}, {"quantity_refunded", 1}, {"refunded", 15}}})}}),
  };
  std::size_t sent = 0;
  for (const json& event : events) {  // one at a time, so that they arrive in the order Shopify sent them
    const auto response = client.post("/v1/track", event.dump(), auth);
    ASSERT_EQ(response.status, 200) << response.body;
    ASSERT_TRUE(fake.wait_for_records(++sent, 20s)) << binary.child.output();
  }
  binary.child.signal(SIGTERM);
  EXPECT_EQ(binary.child.wait_exit(15s), 0) << binary.child.output();

  const auto records = fake.records();
  ASSERT_EQ(records.size(), 3u);
  const char* statuses[] = {"pending", "paid", "refunded"};
  for (std::size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(records[i].json);
    EXPECT_EQ(records[i].api_key, "ometria-key-shop-4d2a");
    EXPECT_EQ(records[i].type, "order");
    const json order = json::parse(records[i].json);
    EXPECT_EQ(order["id"], "1001");
    EXPECT_EQ(order["@merge"], true) << "every event updates the same order record";
    EXPECT_EQ(order["status"], statuses[i]);
    EXPECT_EQ(order["is_valid"], true);
    EXPECT_EQ(order["grand_total"], 30) << "the spec's total";
    EXPECT_EQ(order["currency"], "GBP");
    EXPECT_EQ(order["timestamp"], "2024-05-01T10:00:00.000Z");  // as the gateway writes it (RFC 3339, milliseconds)
    EXPECT_EQ(order["customer"], json({{"id", "u1"}, {"email", "ann@example.com"}}));
    ASSERT_EQ(order["lineitems"].size(), 1u);
    const json& item = order["lineitems"][0];
    EXPECT_EQ(item["product_id"], "P1");
    EXPECT_EQ(item["sku"], "P1-S");
    EXPECT_EQ(item["quantity"], 2);
    EXPECT_EQ(item["unit_price"], 15) << "the spec's price";
    EXPECT_FALSE(item.contains("properties")) << "price is read, not copied into properties";
    EXPECT_FALSE(item.contains("base_unit_price")) << "local currency: no base fields";
    EXPECT_FALSE(item.contains("local_unit_price"));
  }
  EXPECT_EQ(json::parse(records[1].json)["payment_method"], "card");
  const json refunded = json::parse(records[2].json);
  EXPECT_EQ(refunded["total_refunded"], 15);
  EXPECT_EQ(refunded["lineitems"][0]["quantity_refunded"], 1);
  EXPECT_EQ(refunded["lineitems"][0]["refunded"], 15);
  for (const auto& push : fake.pushes()) EXPECT_EQ(push.records, 1u);
}

}  // namespace
}  // namespace omt::test
