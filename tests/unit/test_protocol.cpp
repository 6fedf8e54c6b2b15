// rudder-transformer's processor and router envelopes (contract sections 2-5), without HTTP.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/rudder.hpp"

namespace {
using nlohmann::json;
using omt::protocol::processor_transform;
using omt::protocol::router_transform;

const omt::ometria::Transformer& transformer() {
  static const auto t = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  return *t;
}

json identify(int n) {
  return {{"type", "identify"},
          {"userId", "u" + std::to_string(n)},
          {"context", {{"traits", {{"email", "user" + std::to_string(n) + "@example.com"}, {"listingId", "l" + std::to_string(n)}}}}}};
}
json track(int n, const std::string& event) {
  return {{"type", "track"},
          {"event", event},
          {"userId", "u" + std::to_string(n)},
          {"messageId", "m" + std::to_string(n)},
          {"originalTimestamp", "2024-05-01T10:00:00Z"},
          {"context", {{"traits", {{"email", "user@example.com"}}}}},
          {"properties", {{"order_id", "o" + std::to_string(n)}, {"grand_total", 10}, {"currency", "gbp"}}}};
}
json input(const json& message, int job, const std::string& api_key = "key-1", const std::string& dest = "d1") {
  json config = json::object();
  if (!api_key.empty()) config["apiKey"] = api_key;
  return {{"message", message},
          {"metadata", {{"jobId", job}, {"destinationId", dest}, {"workspaceId", "w1"}}},
          {"destination", {{"ID", dest}, {"Config", config}}}};
}
json router(const json& inputs) {
  auto reply = router_transform(json{{"input", inputs}, {"destType", "OMETRIA"}}.dump(), transformer());
  EXPECT_EQ(reply.status, 200) << reply.body;
  return json::parse(reply.body);
}

TEST(Router, ChunksOf100RecordsAndEveryJobOnce) {
  json inputs = json::array();
  for (int i = 0; i < 205; ++i) inputs.push_back(input(identify(i), i));
  const json out = router(inputs)["output"];
  ASSERT_EQ(out.size(), 3u);
  std::set<int> jobs;
  std::vector<std::size_t> sizes;
  for (const auto& entry : out) {
    EXPECT_EQ(entry["batched"], true);
    EXPECT_EQ(entry["batchedRequest"]["headers"]["X-Ometria-Auth"], "key-1");
    EXPECT_FALSE(entry["batchedRequest"].contains("userId"));
    const json batch = json::parse(entry["batchedRequest"]["body"]["JSON_ARRAY"]["batch"].get<std::string>());
    sizes.push_back(batch.size());
    EXPECT_EQ(batch.size(), entry["metadata"].size());
    for (const auto& m : entry["metadata"]) EXPECT_TRUE(jobs.insert(m["jobId"].get<int>()).second);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{100, 100, 5}));
  EXPECT_EQ(jobs.size(), 205u);
}

TEST(Router, BatchesNeverMixTypesOrKeysAndErrorsComeFirst) {
  json inputs = json::array({input(identify(1), 1), input(track(2, "order completed"), 2), input(track(3, "Viewed"), 3),
                             input(identify(4), 4), input({{"type", "page"}}, 5), input(track(6, "order shipped"), 6)});
  const json out = router(inputs)["output"];
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["statusCode"], 400);
  EXPECT_EQ(out[0]["error"], "message type page is not supported");
  EXPECT_EQ(out[0]["metadata"], json::array({inputs[4]["metadata"]}));
  EXPECT_EQ(out[0]["statTags"]["feature"], "router");
  EXPECT_EQ(out[0]["statTags"]["destinationId"], "d1");
  EXPECT_EQ(out[0]["statTags"]["errorType"], "instrumentation");
  std::vector<std::string> types;
  for (std::size_t i = 1; i < out.size(); ++i) {
    const json batch = json::parse(out[i]["batchedRequest"]["body"]["JSON_ARRAY"]["batch"].get<std::string>());
    std::set<std::string> in_batch;
    for (const auto& record : batch) in_batch.insert(record["@type"].get<std::string>());
    ASSERT_EQ(in_batch.size(), 1u);
    types.push_back(*in_batch.begin());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"contact", "order", "custom_event"}));
  EXPECT_EQ(out[2]["metadata"].size(), 2u);  // both orders
}

TEST(Router, GroupsByDestinationAndChecksApiKeyPerEvent) {
  json inputs = json::array({input(identify(1), 1, "key-1", "d1"), input(identify(2), 2, "", "d2"),
                             input(identify(3), 3, "key-2", "d3"), input(identify(4), 4, "key-1", "d1")});
  const json out = router(inputs)["output"];
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["batchedRequest"]["headers"]["X-Ometria-Auth"], "key-1");
  EXPECT_EQ(out[0]["metadata"].size(), 2u);
  EXPECT_EQ(out[1]["error"], "Invalid Api Key");
  EXPECT_EQ(out[1]["statTags"]["errorType"], "configuration");
  EXPECT_EQ(out[1]["destination"]["ID"], "d2");
  EXPECT_EQ(out[2]["batchedRequest"]["headers"]["X-Ometria-Auth"], "key-2");
}

TEST(Router, BadInputs) {
  auto empty = router_transform(R"({"input":[],"destType":"ometria"})", transformer());
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(json::parse(empty.body),
            json::parse(R"({"output":[{"metadata":[{"destType":"ometria"}],"batched":false,"statusCode":400,"error":"Invalid event array"}]})"));
  EXPECT_EQ(json::parse(router_transform(R"({"destType":"ometria"})", transformer()).body)["output"][0]["error"],
            "Invalid event array");
  auto unknown = router_transform(R"({"input":[{}],"destType":"mailchimp"})", transformer());
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"error":"Unknown destination: mailchimp"})");
  auto no_type = router_transform(R"({"input":[{}]})", transformer());
  EXPECT_EQ(no_type.status, 400);
  auto not_object = router_transform("[1,2]", transformer());
  EXPECT_EQ(not_object.status, 400);
  EXPECT_EQ(json::parse(not_object.body)["error"], "Expected a JSON object {\"input\":[...],\"destType\":\"ometria\"}, got array");
}

TEST(Processor, OneElementPerEventInOrderWithMetadataVerbatim) {
  json body = json::array({input(identify(1), 1), json{{"message", identify(2)}, {"destination", {{"Config", {{"apiKey", "k"}}}}}},
                           json{{"message", {{"type", "alias"}}}, {"destination", {{"Config", {{"apiKey", "k"}}}}}},
                           json(42)});
  auto reply = processor_transform(body.dump(), transformer());
  ASSERT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.api_version_header);
  const json out = json::parse(reply.body);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["statusCode"], 200);
  EXPECT_EQ(out[0]["metadata"], body[0]["metadata"]);
  EXPECT_EQ(out[0]["output"]["userId"], "");
  EXPECT_FALSE(out[1].contains("metadata"));
  EXPECT_EQ(out[2]["statusCode"], 400);
  EXPECT_EQ(out[2]["error"], "message type alias is not supported");
  EXPECT_EQ(out[2]["statTags"]["feature"], "processor");
  EXPECT_EQ(out[3]["statusCode"], 400);
}

TEST(Processor, WrongShapesAreClearErrors) {
  auto obj = processor_transform("{}", transformer());
  EXPECT_EQ(obj.status, 400);
  EXPECT_EQ(json::parse(obj.body)["error"], "Expected a JSON array of {message, destination, metadata} objects, got object");
  EXPECT_EQ(processor_transform("[]", transformer()).status, 400);
}

TEST(Processor, InvalidJsonNamesTheByteOffset) {
  auto reply = processor_transform(R"([{"message": tru}])", transformer());
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(json::parse(reply.body)["error"].get<std::string>().rfind("Invalid JSON at byte 16: ", 0), 0u) << reply.body;
  auto utf8 = processor_transform(std::string("[\"ab\xff\"]"), transformer());
  EXPECT_EQ(utf8.status, 400);
  EXPECT_EQ(json::parse(utf8.body)["error"], "Invalid JSON at byte 4: syntax error while parsing value - invalid string: ill-formed UTF-8 byte");
  EXPECT_EQ(processor_transform("", transformer()).status, 400);
}

TEST(Processor, DeepNestingIsRefusedNotFatal) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  auto reply = processor_transform(deep, transformer());
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(json::parse(reply.body)["error"], "Invalid JSON: nested deeper than 1024 levels");
}

TEST(Processor, HostileEventsFailOnlyThemselves) {
  // Wrong types everywhere, a huge string, and deep (but parseable) nesting inside one event.
  std::string nested = "{\"type\":\"identify\",\"traits\":{\"email\":\"a@b.c\",\"listingId\":\"l\",\"deep\":";
  for (int i = 0; i < 900; ++i) nested += "{\"x\":";
  nested += "1";
  for (int i = 0; i < 900; ++i) nested += "}";
  nested += "}}";
  std::string body = "[";
  body += R"({"message":{"type":5},"destination":{"Config":{"apiKey":"k"}}},)";
  body += R"({"message":{"type":"track","event":{"a":1}},"destination":{"Config":{"apiKey":"k"}}},)";
  body += R"({"message":{"type":"identify","traits":{"email":"a@b.c","listingId":"l","name":["x"]}},"destination":{"Config":{"apiKey":"k"}}},)";
  body += R"({"message":{"type":"identify","traits":{"email":"a@b.c","listingId":")" + std::string(70000, 'x') +
          R"("}},"destination":{"Config":{"apiKey":"k"}}},)";
  body += R"({"message":)" + nested + R"(,"destination":{"Config":{"apiKey":"k"}}},)";
  body += R"({"message":"not an object","destination":{"Config":{"apiKey":"k"}}}])";
  auto reply = processor_transform(body, transformer());
  ASSERT_EQ(reply.status, 200) << reply.body.substr(0, 300);
  const json out = json::parse(reply.body);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0]["error"], "type must be a string, got number");
  EXPECT_EQ(out[1]["error"], "event must be a string, got object");
  EXPECT_EQ(out[2]["error"], "traits.name must be a string, got array");
  EXPECT_EQ(out[3]["error"].get<std::string>().rfind("Record is larger than Ometria's 60 KB limit", 0), 0u);
  EXPECT_EQ(out[4]["statusCode"], 200);
  EXPECT_EQ(out[5]["error"], "message must be an object, got string");
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u}) EXPECT_EQ(out[i]["statusCode"], 400);
}

TEST(Protocol, DestinationNamesAndFeatures) {
  EXPECT_TRUE(omt::protocol::is_known_destination("OMETRIA"));
  EXPECT_TRUE(omt::protocol::is_known_destination(" Ometria "));
  EXPECT_FALSE(omt::protocol::is_known_destination("ometrias"));
  const json features = json::parse(omt::protocol::features_json());
  EXPECT_EQ(features["routerTransform"]["OMETRIA"], true);
  EXPECT_EQ(features["supportSourceTransformV1"], true);
  EXPECT_EQ(features["upgradedToSourceTransformV2"], true);
  EXPECT_EQ(features["supportDestTransformCompactedPayloadV1"], true);  // tests/unit/test_compacted_payload.cpp
}

}  // namespace
