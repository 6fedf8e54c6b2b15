// mappings/own_orders.json: the order tables of the service's own sources are the seed's, extended (more source
// names after the seed's, fields of their own, the lifecycle's event names), and the seed's stay as they were.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "mapping/loader.hpp"
#include "mapping/own_orders.hpp"
#include "mapping_dir.hpp"
#include "omt/ometria/transformer.hpp"
#include "ometria/output_contract.hpp"

namespace {

using omt::test::MappingDir;

omt::Expected<omt::mapping::TableSet> load(const MappingDir& dir) {
  return omt::mapping::load_tables(dir.path(), omt::ometria::contract::all);
}

std::string own_orders_error(const std::string& text) {
  MappingDir dir;
  dir.write("own_orders.json", text);
  auto tables = load(dir);
  EXPECT_FALSE(tables) << "expected own_orders.json to be refused";
  return tables ? std::string() : tables.error().message;
}

TEST(OwnOrders, ExtendTheSeedTablesAndLeaveThemAsTheyWere) {
  auto tables = omt::mapping::load_tables(omt::test::project_mappings_dir(), omt::ometria::contract::all);
  ASSERT_TRUE(tables) << tables.error().message;
  ASSERT_TRUE(tables->own_orders);
  const auto& own = *tables->own_orders;
  const auto* seed_total = tables->order.list("fields").find("grand_total");
  const auto* own_total = own.tables.order.list("fields").find("grand_total");
  ASSERT_TRUE(seed_total && own_total);
  EXPECT_EQ(seed_total->sources_json, R"("properties.grand_total")");
  ASSERT_GE(own_total->from.size(), 3u);
  EXPECT_EQ(own_total->from[0].text, "properties.grand_total") << "the seed's name is read first";
  EXPECT_EQ(own_total->from[1].text, "properties.total");
  EXPECT_EQ(own_total->from[2].text, "properties.revenue");
  EXPECT_FALSE(tables->lineitems.list("fields").find("base_unit_price"));
  EXPECT_TRUE(own.tables.lineitems.list("fields").find("base_unit_price"));
  EXPECT_EQ(own.tables.order.statuses, tables->order.statuses) << "the lifecycle's names only with the lifecycle";
  EXPECT_GT(own.lifecycle_tables.order.statuses.size(), tables->order.statuses.size());
  EXPECT_FALSE(own.tables.own_orders);
}

TEST(OwnOrders, TheRudderTransformerMappingStillRefusesASpecShapedOrder) {
  auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  ASSERT_TRUE(transformer) << transformer.error().message;
  simdjson::dom::parser parser;
  simdjson::dom::element event;
  ASSERT_EQ(parser.parse(std::string(R"({"type":"track","event":"Order Completed","userId":"u1",
      "originalTimestamp":"2024-05-01T10:00:00Z","context":{"traits":{"email":"a@example.com"}},
      "properties":{"order_id":"1","revenue":25,"currency":"USD","products":[{"product_id":"p","quantity":1,"price":3}]}})")).get(event), simdjson::SUCCESS);
  omt::ometria::DestinationConfig config;
  config.api_key = "k";
  auto seed = transformer->transform(event, config);
  ASSERT_FALSE(seed);
  EXPECT_EQ(seed.error().message, R"(Missing required value from "properties.grand_total")");
  auto own = transformer->transform(event, config, transformer->tables().own_orders->tables);
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_NE(own->json.find(R"("grand_total":25)"), std::string::npos) << own->json;
  EXPECT_NE(own->json.find(R"("unit_price":3)"), std::string::npos) << own->json;
}

// A source in local currency sends no base_* of the order nor base_* / local_* of its line items: its tables do not
// look them up, except where a rule can refuse the event (base_currency must be a string), and keep the rest.
TEST(OwnOrders, TheLocalCurrencyTablesLeaveOutTheTwinsTheRecordDrops) {
  auto tables = omt::mapping::load_tables(omt::test::project_mappings_dir(), omt::ometria::contract::all);
  ASSERT_TRUE(tables) << tables.error().message;
  const auto& own = *tables->own_orders;
  for (const auto* local : {&own.local_tables, &own.local_lifecycle_tables}) {
    const auto& order = local->order.list("fields");
    const auto& items = local->lineitems.list("fields");
    EXPECT_FALSE(order.find("base_grand_total"));
    EXPECT_TRUE(order.find("base_currency")) << "a string check can refuse the order";
    EXPECT_TRUE(order.find("total_refunded"));
    EXPECT_TRUE(order.find("grand_total"));
    EXPECT_FALSE(items.find("base_unit_price"));
    EXPECT_FALSE(items.find("local_unit_price"));
    EXPECT_TRUE(items.find("unit_price"));
    EXPECT_EQ(local->lineitems.custom_fields->exclude, own.tables.lineitems.custom_fields->exclude)
        << "the twins' source names are still left out of the line items' properties";
  }
  EXPECT_EQ(own.local_lifecycle_tables.order.statuses, own.lifecycle_tables.order.statuses);
  EXPECT_EQ(own.local_tables.order.statuses, own.tables.order.statuses);
  EXPECT_TRUE(own.tables.lineitems.list("fields").find("local_unit_price")) << "the other currencies keep them";
}

TEST(OwnOrders, ErrorsNameTheFileAndTheEntry) {
  EXPECT_EQ(own_orders_error(R"({"lifecycle":{"order paid":"paid"},"order":{"alsoFrom":{"grand_totl":["properties.total"]}}})"),
            R"(mapping error in own_orders.json order alsoFrom grand_totl: no rule of order.json fields maps "grand_totl")");
  EXPECT_EQ(own_orders_error(R"({"lifecycle":{"order paid":"paid"},"lineitems":{"fields":[{"to":"sku","from":"code"}]}})"),
            R"(mapping error in own_orders.json lineitems fields[0]: "sku" is mapped twice)");
  EXPECT_EQ(own_orders_error(R"({"lifecycle":{"order paid":"paid"},"orders":{}})"),
            R"(mapping error in own_orders.json: unknown key "orders")");
  EXPECT_EQ(own_orders_error(R"({"invalidStatuses":[]})"), R"(mapping error in own_orders.json: missing "lifecycle")");
  EXPECT_EQ(own_orders_error(R"({"lifecycle":{"order paid":1}})"),
            R"(mapping error in own_orders.json lifecycle: status of "order paid" must be a string)");
}

}  // namespace
