// A source's consent and custom-event settings (docs/sources.md) through the real server into the queue: what
// the settings say not to send is answered 200 as skipped, counted under its own outcome, and never stored; what
// is sent arrives as the record the settings make.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ingest_fixture.hpp"

namespace {

using namespace omt::test::ingest;
using nlohmann::json;

json with_consent(json event, const json& denied) {
  event["context"]["consentManagement"] = {{"provider", "oneTrust"},
                                           {"resolutionStrategy", "and"},
                                           {"allowedConsentIds", json::array({"C0001"})},
                                           {"deniedConsentIds", denied}};
  return event;
}

TEST_F(IngestTest, WhatASourcesSettingsDoNotSendIsSkippedCountedAndNeverStored) {
  auto& settings = sources_[0].mapping;  // "web"
  settings.consent.providers = {{.provider = "oneTrust", .resolution_strategy = "", .ids = {"C0001", "C0003"}}};
  settings.custom_events.list = omt::sources::CustomEventSettings::List::allow;
  settings.custom_events.names = {"viewed thing"};
  settings.custom_events.product_ids = true;
  start();

  json listed = with_consent(custom_event(1), json::array({"C0002"}));
  listed["properties"] = {{"list", "summer"}, {"products", json::array({json{{"product_id", "SKU-1"}}, json{{"sku", "SKU-2"}}})}};
  json unlisted = custom_event(2);
  unlisted["event"] = "Other Thing";
  const json batch = {{"batch", json::array({with_consent(identify(0), json::array({"C0003"})), listed, unlisted,
                                             with_consent(custom_event(3), json::array({"C0001", "C0003"})),
                                             json{{"type", "page"}}})}};
  const auto response = post("/v1/batch", batch.dump(), kWebBasic);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":1,"skipped":4,"rejected":[]})");

  const std::string metrics = metrics_.render_prometheus();
  EXPECT_NE(metrics.find(R"(omt_ingest_events_total{outcome="no_consent"} 2)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omt_ingest_events_total{outcome="not_allowed"} 1)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omt_ingest_events_total{outcome="skipped"} 1)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omt_ingest_events_total{outcome="accepted"} 1)"), std::string::npos) << metrics;

  const auto stored = records_in_queue_file();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].type, RecordType::custom_event);
  const json record = json::parse(stored[0].json);
  EXPECT_EQ(record["id"], "m1");
  EXPECT_EQ(record["properties"], json({{"list", "summer"}, {"product_id", json::array({"SKU-1", "SKU-2"})}}));
}

TEST_F(IngestTest, ARequestOfEventsWithoutConsentAloneIsA200ThatStoresNothing) {
  sources_[0].mapping.consent.providers = {{.provider = "oneTrust", .resolution_strategy = "", .ids = {"C0001"}}};
  start();
  const auto response = post("/v1/identify", with_consent(identify(1), json::array({"C0001"})).dump(), kWebBasic);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"accepted":0,"skipped":1,"rejected":[]})");
  EXPECT_NE(metrics_.render_prometheus().find(R"(omt_ingest_events_total{outcome="no_consent"} 1)"), std::string::npos);
  EXPECT_EQ(notified_.load(), 0);
  EXPECT_TRUE(records_in_queue_file().empty());
}

}  // namespace
