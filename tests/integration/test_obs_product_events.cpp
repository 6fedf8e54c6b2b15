// obs/product_events: an incomplete product is counted in omt_products_incomplete_total (there from the start at 0)
// and logged at info with its source, its id (redacted as user text) and what it lacks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "log_capture.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/obs/product_events.hpp"

namespace omt::obs {
namespace {

using nlohmann::json;

TEST(ProductEvents, AnIncompleteProductIsCountedAndLogged) {
  Registry registry;
  const ProductEvents events(&registry);
  EXPECT_NE(registry.render_prometheus().find("omt_products_incomplete_total 0\n"), std::string::npos)
      << registry.render_prometheus();
  test::LogCapture capture({"info", LogFormat::json, false});
  events.emit(ProductIncomplete{"warehouse", "P-2", "price, url"});
  events.emit(ProductIncomplete{"warehouse", "ann@example.com", "title"});  // an id that is an address is redacted
  EXPECT_NE(registry.render_prometheus().find("omt_products_incomplete_total 2\n"), std::string::npos);
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  const json first = json::parse(lines[0]);
  EXPECT_EQ(first["event"], "product_incomplete");
  EXPECT_EQ(first["msg"], "source warehouse: product P-2 is sent without price, url: Ometria's recommendations leave it out");
  EXPECT_EQ(first["source"], "warehouse");
  EXPECT_EQ(first["product_id"], "P-2");
  EXPECT_EQ(first["missing"], "price, url");
  EXPECT_EQ(json::parse(lines[1])["product_id"], "<email>");
  EXPECT_EQ(lines[1].find("ann@example.com"), std::string::npos) << lines[1];
}

TEST(ProductEvents, WithoutARegistryOnlyTheLineIsWritten) {
  const ProductEvents events(nullptr);
  test::LogCapture capture({"info", LogFormat::text, false});
  events.emit(ProductIncomplete{"shop", "P-9", "is_active"});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].ends_with("product P-9 is sent without is_active: Ometria's recommendations leave it out")) << lines[0];
}

}  // namespace
}  // namespace omt::obs
