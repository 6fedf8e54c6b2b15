// rudder-server's compacted destination-transform bodies (X-Content-Format: json+compactedv1): every golden case
// answers byte for byte as in the expanded form, on the processor and the router route, and a body whose
// references are broken is refused whole with a 400 that names the input and the id.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/rudder.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;  // golden messages keep their key order: the records depend on it
using omt::protocol::BodyForm;
using omt::protocol::processor_transform;
using omt::protocol::router_transform;

const omt::ometria::Transformer& transformer() {
  static const auto t = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  return *t;
}

struct GoldenCase {
  std::string name;
  ordered_json message;
  ordered_json config;
};

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  for (const auto& entry : fs::directory_iterator(fs::path(OMT_SOURCE_DIR) / "tests" / "cases")) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    const ordered_json spec = ordered_json::parse(text.str());
    cases.push_back({entry.path().filename().string(), spec.at("message"), spec.at("destination")});
  }
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

// One input as rudder-server sends it: its metadata names its destination and source, so its connection is
// connections["src-1:<destination id>"].
struct Input {
  ordered_json message;
  ordered_json metadata;
  ordered_json destination;
  ordered_json connection;
};

Input input_of(const ordered_json& message, const ordered_json& config, int job, const std::string& destination_id) {
  return {message,
          {{"jobId", job}, {"destinationId", destination_id}, {"sourceId", "src-1"}, {"workspaceId", "ws-1"}},
          {{"ID", destination_id}, {"Name", "ometria-" + destination_id}, {"Config", config}, {"Enabled", true},
           {"WorkspaceID", "ws-1"}, {"Transformations", ordered_json::array()}},
          {{"sourceId", "src-1"}, {"destinationId", destination_id}, {"enabled", true}, {"config", ordered_json::object()},
           {"processorEnabled", true}}};
}

// The expanded inputs (types.TransformerEvent / RouterJobT, libraries and credentials included) and the
// compacted ones with their two maps (CompactedTransformRequest / CompactedTransformMessageT).
ordered_json expanded_inputs(const std::vector<Input>& inputs) {
  ordered_json out = ordered_json::array();
  for (const auto& in : inputs)
    out.push_back({{"message", in.message}, {"metadata", in.metadata}, {"destination", in.destination},
                   {"connection", in.connection}, {"libraries", ordered_json::array()},
                   {"credentials", ordered_json::array()}});
  return out;
}
ordered_json compacted_body(const std::vector<Input>& inputs) {
  ordered_json body = {{"input", ordered_json::array()}, {"destinations", ordered_json::object()},
                       {"connections", ordered_json::object()}};
  for (const auto& in : inputs) {
    body["input"].push_back({{"message", in.message}, {"metadata", in.metadata}});
    const std::string id = in.metadata["destinationId"];
    body["destinations"][id] = in.destination;
    body["connections"]["src-1:" + id] = in.connection;
  }
  return body;
}

struct BothForms {
  omt::protocol::Reply expanded, compacted;
  omt::protocol::EventTally expanded_tally, compacted_tally;
};

BothForms processor_both(const std::vector<Input>& inputs) {
  BothForms r;
  r.expanded = processor_transform(expanded_inputs(inputs).dump(), transformer(), &r.expanded_tally);
  r.compacted = processor_transform(compacted_body(inputs).dump(), transformer(), &r.compacted_tally, 0,
                                    BodyForm::compacted_v1);
  return r;
}
BothForms router_both(const std::vector<Input>& inputs) {
  BothForms r;
  const ordered_json expanded = {{"input", expanded_inputs(inputs)}, {"destType", "ometria"}};
  ordered_json compacted = compacted_body(inputs);
  compacted["destType"] = "ometria";
  r.expanded = router_transform(expanded.dump(), transformer(), &r.expanded_tally);
  r.compacted = router_transform(compacted.dump(), transformer(), &r.compacted_tally, 0, BodyForm::compacted_v1);
  return r;
}

void expect_same(const BothForms& r, const std::string& what) {
  EXPECT_EQ(r.expanded.status, 200) << what << ": " << r.expanded.body;
  EXPECT_EQ(r.compacted.status, r.expanded.status) << what;
  EXPECT_EQ(r.compacted.body, r.expanded.body) << what;
  EXPECT_EQ(r.compacted.api_version_header, r.expanded.api_version_header) << what;
  ASSERT_EQ(r.compacted_tally.events.size(), r.expanded_tally.events.size()) << what;
  for (std::size_t i = 0; i < r.expanded_tally.events.size(); ++i) {
    EXPECT_EQ(r.compacted_tally.events[i].type, r.expanded_tally.events[i].type) << what << " event " << i;
    EXPECT_EQ(r.compacted_tally.events[i].error, r.expanded_tally.events[i].error) << what << " event " << i;
  }
}

TEST(CompactedPayload, EveryGoldenCaseAnswersAsExpandedOnBothRoutes) {
  const auto cases = golden_cases();
  ASSERT_GE(cases.size(), 45u);
  for (const auto& c : cases) {
    const std::vector<Input> one = {input_of(c.message, c.config, 1, "dest-1")};
    expect_same(processor_both(one), "processor " + c.name);
    expect_same(router_both(one), "router " + c.name);
  }
}

TEST(CompactedPayload, AllGoldenCasesInOneBodyEachWithItsOwnDestination) {
  std::vector<Input> inputs;
  int job = 0;
  for (const auto& c : golden_cases()) {
    ++job;
    inputs.push_back(input_of(c.message, c.config, job, "dest-" + std::to_string(job)));
  }
  expect_same(processor_both(inputs), "processor");
  expect_same(router_both(inputs), "router");
}

// Runs of one destination and changes back and forth (a, a, b, a, b, b): each input's destination is its own
// whether or not the input before named the same one (the body's ids decide it without comparing the JSON).
TEST(CompactedPayload, RunsOfOneDestinationAndChangesBackAndForth) {
  const auto cases = golden_cases();
  std::vector<Input> inputs;
  const std::vector<std::string> ids = {"dest-a", "dest-a", "dest-b", "dest-a", "dest-b", "dest-b"};
  for (std::size_t i = 0; i < ids.size(); ++i)
    inputs.push_back(input_of(cases[i % cases.size()].message, {{"apiKey", "key-of-" + ids[i]}}, int(i) + 1, ids[i]));
  expect_same(processor_both(inputs), "processor");
  expect_same(router_both(inputs), "router");
  const auto out = nlohmann::json::parse(processor_both(inputs).compacted.body);
  ASSERT_EQ(out.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (out[i]["statusCode"] != 200) continue;  // a golden case that fails fails in both forms alike (above)
    EXPECT_EQ(out[i]["output"]["headers"]["X-Ometria-Auth"], "key-of-" + ids[i]) << i;
  }
}

TEST(CompactedPayload, ManyInputsOfOneDestinationAreBatchedAsExpandedAndEchoTheMapsDestination) {
  const auto cases = golden_cases();
  std::vector<Input> inputs;
  const ordered_json config = {{"apiKey", "key-1"}};
  for (int i = 0; i < 230; ++i)  // more than two pushes' worth, every golden message, a few of them twice
    inputs.push_back(input_of(cases[std::size_t(i) % cases.size()].message, config, i + 1, "dest-1"));
  const BothForms router = router_both(inputs);
  expect_same(router, "router");
  expect_same(processor_both(inputs), "processor");
  const auto out = nlohmann::json::parse(router.compacted.body)["output"];
  const auto map_destination = nlohmann::json::parse(compacted_body(inputs)["destinations"]["dest-1"].dump());
  std::size_t batches = 0;
  for (const auto& entry : out) {
    EXPECT_EQ(entry["destination"], map_destination);
    batches += entry["batched"] == true ? 1 : 0;
  }
  EXPECT_GE(batches, 3u);
}

TEST(CompactedPayload, ADuplicatedDestinationKeyMeansItsLastValueAsJsonParse) {
  const auto cases = golden_cases();
  Input in = input_of(cases.front().message, {{"apiKey", "last-key"}}, 1, "dest-1");
  const std::string compacted = R"({"input":[{"message":)" + in.message.dump() + R"(,"metadata":)" + in.metadata.dump() +
                                R"(}],"destinations":{"dest-1":{"ID":"dest-1","Config":{"apiKey":"first-key"}},"dest-1":)" +
                                in.destination.dump() + R"(},"connections":{}})";
  const auto reply = processor_transform(compacted, transformer(), nullptr, 0, BodyForm::compacted_v1);
  EXPECT_EQ(reply.body, processor_transform(expanded_inputs({in}).dump(), transformer()).body);
  EXPECT_NE(reply.body.find("last-key"), std::string::npos) << reply.body;
}

// ---- refused bodies ---------------------------------------------------------------------------------------------

struct Refusal {
  std::string body;   // the compacted body without destType
  std::string error;  // the whole {"error": ...} message
};

const std::vector<Refusal>& refusals() {
  static const std::vector<Refusal> all = {
      {R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}},{"message":{},"metadata":{"destinationId":"d9"}}],"destinations":{"d1":{}},"connections":{}})",
       R"(input[1].metadata.destinationId "d9" is not a key of destinations)"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}}],"connections":{}})",
       R"(destinations is required in a compacted body (X-Content-Format: json+compactedv1): {"<metadata.destinationId>":{destination}, ...})"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}}],"destinations":[{"ID":"d1"}]})",
       "destinations must be an object, got array"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}}],"destinations":null})",
       "destinations must be an object, got null"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}}],"destinations":{"d1":{}},"connections":"x"})",
       "connections must be an object, got string"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}},42],"destinations":{"d1":{}}})",
       "input[1] must be an object {message, metadata}, got number"},
      {R"({"input":[{"message":{}}],"destinations":{"d1":{}}})",
       "input[0].metadata is required: its destinationId names the input's destination"},
      {R"({"input":[{"message":{},"metadata":["d1"]}],"destinations":{"d1":{}}})",
       "input[0].metadata must be an object, got array"},
      {R"({"input":[{"message":{},"metadata":{"jobId":1}}],"destinations":{"d1":{}}})",
       "input[0].metadata.destinationId is required: it names the input's destination"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":7}}],"destinations":{"7":{}}})",
       "input[0].metadata.destinationId must be a string, got number"},
      {R"({"input":[{"message":{},"metadata":{"destinationId":"D1"}}],"destinations":{"d1":{}}})",
       R"(input[0].metadata.destinationId "D1" is not a key of destinations)"},  // ids are compared byte for byte
      {R"({"input":[{"message":{},"metadata":{"destinationId":"a\"b"}}],"destinations":{"d1":{}}})",
       R"(input[0].metadata.destinationId "a\"b" is not a key of destinations)"},
  };
  return all;
}

TEST(CompactedPayload, BrokenReferencesAreRefusedWholeNamingTheInputAndTheId) {
  for (const auto& r : refusals()) {
    omt::protocol::EventTally tally;
    const auto processor = processor_transform(r.body, transformer(), &tally, 0, BodyForm::compacted_v1);
    EXPECT_EQ(processor.status, 400) << r.body;
    EXPECT_TRUE(processor.api_version_header);
    EXPECT_EQ(nlohmann::json::parse(processor.body), nlohmann::json({{"error", r.error}})) << r.body;
    EXPECT_TRUE(tally.events.empty()) << "no event was transformed: " << r.body;

    std::string router_body = r.body;
    router_body.insert(router_body.size() - 1, R"(,"destType":"ometria")");
    const auto router = router_transform(router_body, transformer(), &tally, 0, BodyForm::compacted_v1);
    EXPECT_EQ(router.status, 400) << router_body;
    EXPECT_EQ(nlohmann::json::parse(router.body), nlohmann::json({{"error", r.error}})) << router_body;
    EXPECT_TRUE(tally.events.empty());
  }
}

TEST(CompactedPayload, ProcessorEnvelopeErrors) {
  const auto not_object = processor_transform(R"([{"message":{}}])", transformer(), nullptr, 0, BodyForm::compacted_v1);
  EXPECT_EQ(not_object.status, 400);
  EXPECT_EQ(nlohmann::json::parse(not_object.body)["error"],
            R"(Expected a JSON object {"input":[...],"destinations":{...},"connections":{...}} (X-Content-Format: json+compactedv1), got array)");
  for (const char* body : {R"({"destinations":{}})", R"({"input":[],"destinations":{}})", R"({"input":{},"destinations":{}})"}) {
    const auto reply = processor_transform(body, transformer(), nullptr, 0, BodyForm::compacted_v1);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_EQ(nlohmann::json::parse(reply.body)["error"], "input must be a non-empty array of {message, metadata} objects");
  }
  EXPECT_EQ(processor_transform("[{", transformer(), nullptr, 0, BodyForm::compacted_v1).status, 400);
  // A compacted body without the header is read as an expanded one, which it is not.
  const std::string compacted = R"({"input":[{"message":{},"metadata":{"destinationId":"d1"}}],"destinations":{"d1":{}}})";
  EXPECT_EQ(processor_transform(compacted, transformer()).status, 400);
}

TEST(CompactedPayload, RouterEnvelopeChecksComeFirstAsInTheExpandedForm) {
  // destType before anything else; a missing or empty input is the contract's "Invalid event array" answer.
  const auto unknown = router_transform(R"({"input":[{}],"destType":"mailchimp"})", transformer(), nullptr, 0,
                                        BodyForm::compacted_v1);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"error":"Unknown destination: mailchimp"})");
  for (const char* body : {R"({"input":[],"destType":"ometria","destinations":{}})", R"({"destType":"ometria"})"}) {
    const auto reply = router_transform(body, transformer(), nullptr, 0, BodyForm::compacted_v1);
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, router_transform(body, transformer()).body);
  }
}

TEST(CompactedPayload, OnlyTheExactContentFormatSelectsIt) {
  using omt::protocol::body_form_of;
  EXPECT_EQ(body_form_of("json+compactedv1"), BodyForm::compacted_v1);
  for (const char* other : {"", "json", "json+compactedv2", "JSON+COMPACTEDV1", " json+compactedv1"})
    EXPECT_EQ(body_form_of(other), BodyForm::expanded) << other;
}

}  // namespace
