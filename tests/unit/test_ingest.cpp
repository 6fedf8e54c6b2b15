// The ingest endpoints' pure parts: body shapes, per-event results, answers and dry-run grouping.
// Credentials: test_ingest_credentials.cpp; the batch-level merge on its own: test_batch_merge.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <tuple>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/ingest.hpp"

namespace {
using nlohmann::json;
using namespace omt::protocol;
using omt::errc;

const omt::ometria::Transformer& transformer() {
  static const auto t = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  return *t;
}

omt::ometria::DestinationConfig destination(const std::string& key = "key-1") {
  omt::ometria::DestinationConfig d;
  d.api_key = key;
  return d;
}

json identify(int n, bool with_type = true) {
  json e = {{"userId", "u" + std::to_string(n)},
            {"context", {{"traits", {{"email", "user" + std::to_string(n) + "@example.com"}, {"listingId", "l" + std::to_string(n)}}}}}};
  if (with_type) e["type"] = "identify";
  return e;
}

// A source sending with these destination settings and no settings of its own.
omt::config::SourceConfig source_of(omt::ometria::DestinationConfig destination) {
  omt::config::SourceConfig source;
  source.name = "test";
  source.destination = std::move(destination);
  return source;
}

json custom_event(int n, bool with_type = true) {
  json e = {{"event", "Viewed Thing"},
            {"userId", "u" + std::to_string(n)},
            {"messageId", "m" + std::to_string(n)},
            {"originalTimestamp", "2024-05-01T10:00:00Z"},
            {"context", {{"traits", {{"email", "user@example.com"}}}}}};
  if (with_type) e["type"] = "track";
  return e;
}

json order(int n) {
  json e = custom_event(n);
  e["event"] = "Order Completed";
  e["properties"] = {{"order_id", "o" + std::to_string(n)}, {"grand_total", 10}, {"currency", "gbp"}};
  return e;
}

IngestResult ingest(IngestRoute route, const std::string& body, IngestLimits limits = {}) {
  auto result = ingest_events(route, body, transformer(), source_of(destination()), limits);
  EXPECT_TRUE(result) << (result ? "" : result.error().message);
  return result ? std::move(*result) : IngestResult{};
}

omt::Error ingest_failure(IngestRoute route, const std::string& body, IngestLimits limits = {}) {
  auto result = ingest_events(route, body, transformer(), source_of(destination()), limits);
  EXPECT_FALSE(result);
  return result ? omt::Error{} : result.error();
}

TEST(IngestShapes, DryRunIsAskedForInTheQuery) {
  EXPECT_TRUE(is_dry_run("/v1/track?dry_run=true"));
  EXPECT_TRUE(is_dry_run("/v1/track?token=x&dry_run=1"));
  EXPECT_TRUE(is_dry_run("/v1/track?dry_run"));
  EXPECT_TRUE(is_dry_run("/v1/track?dry_run=TRUE"));
  EXPECT_FALSE(is_dry_run("/v1/track?dry_run=false"));
  EXPECT_FALSE(is_dry_run("/v1/track?dry_run=0"));
  EXPECT_FALSE(is_dry_run("/v1/track"));
}

// ---- body shapes ------------------------------------------------------------------------------------------------

TEST(IngestShapes, SingleEventRoutesSetTheTypeFromThePath) {
  auto r = ingest(IngestRoute::identify, identify(1, false).dump());
  ASSERT_EQ(r.accepted.size(), 1u);
  EXPECT_EQ(r.accepted[0].record.type, omt::ometria::RecordType::contact);
  EXPECT_EQ(json::parse(r.accepted[0].record.json)["email"], "user1@example.com");

  r = ingest(IngestRoute::track, "  \n" + custom_event(2, false).dump());
  ASSERT_EQ(r.accepted.size(), 1u) << (r.rejected.empty() ? "" : r.rejected[0].error);
  EXPECT_EQ(r.accepted[0].record.type, omt::ometria::RecordType::custom_event);

  // A type given in the event is kept: this identify sent to /v1/track is still an identify.
  r = ingest(IngestRoute::track, identify(3).dump());
  ASSERT_EQ(r.accepted.size(), 1u);
  EXPECT_EQ(r.accepted[0].record.type, omt::ometria::RecordType::contact);

  // {} gets a type but still lacks everything else.
  r = ingest(IngestRoute::identify, "{}");
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.events, 1u);
  EXPECT_EQ(r.rejected[0].index, 0u);
}

TEST(IngestShapes, WebhookTakesAnObjectOrAnArray) {
  auto r = ingest(IngestRoute::webhook, identify(1).dump());
  EXPECT_EQ(r.events, 1u);
  EXPECT_EQ(r.accepted.size(), 1u);

  json list = json::array({identify(1), custom_event(2), order(3)});
  r = ingest(IngestRoute::webhook, list.dump());
  EXPECT_EQ(r.events, 3u);
  ASSERT_EQ(r.accepted.size(), 3u);
  EXPECT_EQ(r.accepted[2].index, 2u);
  EXPECT_EQ(r.accepted[2].record.type, omt::ometria::RecordType::order);

  // The webhook does not guess a type: RudderStack always sends one.
  r = ingest(IngestRoute::webhook, identify(1, false).dump());
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].error, "Event type is required");
}

TEST(IngestShapes, BatchKeepsIndexesOfRejectedEvents) {
  json events = json::array({identify(0), "not an event", custom_event(2), json{{"type", "pageview"}}, identify(4)});
  events[4]["context"]["traits"].erase("email");
  auto r = ingest(IngestRoute::batch, json{{"batch", events}, {"sentAt", "2024-05-01T10:00:00Z"}}.dump());
  EXPECT_EQ(r.events, 5u);
  ASSERT_EQ(r.accepted.size(), 2u);
  EXPECT_EQ(r.accepted[0].index, 0u);
  EXPECT_EQ(r.accepted[1].index, 2u);
  ASSERT_EQ(r.rejected.size(), 3u);
  EXPECT_EQ(r.rejected[0].index, 1u);
  EXPECT_EQ(r.rejected[0].error, "Expected an event object, got string");
  EXPECT_EQ(r.rejected[1].index, 3u);
  EXPECT_EQ(r.rejected[1].error, "message type pageview is not supported");
  EXPECT_EQ(r.rejected[2].index, 4u);
  EXPECT_EQ(r.rejected[2].error, R"(Missing required value from ["traits.email","context.traits.email"])");
}

TEST(IngestShapes, TheLastBatchOfTwoIsTheBatchAsJsonParseReadsIt) {
  const std::string body = R"({"batch":[)" + identify(1).dump() + R"(],"batch":[)" + custom_event(2).dump() + "," +
                           custom_event(3).dump() + "]}";
  const auto r = ingest(IngestRoute::batch, body);
  EXPECT_EQ(r.events, 2u);
  ASSERT_EQ(r.accepted.size(), 2u) << ingest_answer(r).body;
  EXPECT_EQ(r.accepted[0].record.type, omt::ometria::RecordType::custom_event);
  // A non-array last "batch" is the shape error, whatever came first.
  EXPECT_EQ(ingest_failure(IngestRoute::batch, R"({"batch":[)" + identify(1).dump() + R"(],"batch":{}})").message,
            R"(Expected an object {"batch":[event objects]} with a non-empty batch, got "batch" of type object)");
}

TEST(IngestShapes, WrongShapesSayWhatWasExpected) {
  struct Case {
    IngestRoute route;
    std::string body;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {IngestRoute::identify, "[]", "Expected one identify event object, got array"},
           {IngestRoute::track, "\"x\"", "Expected one track event object, got string"},
           {IngestRoute::webhook, "42", "Expected an event object or a non-empty JSON array of event objects, got number"},
           {IngestRoute::webhook, "[]", "Expected an event object or a non-empty JSON array of event objects, got an empty array"},
           {IngestRoute::batch, "[]", R"(Expected an object {"batch":[event objects]} with a non-empty batch, got array)"},
           {IngestRoute::batch, "{}", R"(Expected an object {"batch":[event objects]} with a non-empty batch, got an object without "batch")"},
           {IngestRoute::batch, R"({"batch":{}})", R"(Expected an object {"batch":[event objects]} with a non-empty batch, got "batch" of type object)"},
           {IngestRoute::batch, R"({"batch":[]})", R"(Expected an object {"batch":[event objects]} with a non-empty batch, got an empty batch)"},
       }) {
    const auto error = ingest_failure(c.route, c.body);
    EXPECT_EQ(error.code, errc::invalid_request) << c.body;
    EXPECT_EQ(error.message, c.message);
    EXPECT_EQ(ingest_error(error).status, 400);
  }
}

// ---- batch-level "context" and "integrations" (Segment's HTTP API) ----------------------------------------------

TEST(IngestBatchLevel, ABatchLevelValueThatIsNotAnObjectIsNamed) {
  for (const auto& [body, message, path] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {R"({"batch":[{"type":"identify"}],"context":"web"})",
            R"(Expected "context" beside "batch" to be an object (it is merged into each event), got string)", "context"},
           {R"({"batch":[{"type":"identify"}],"integrations":[true]})",
            R"(Expected "integrations" beside "batch" to be an object (it is merged into each event), got array)",
            "integrations"},
       }) {
    const auto error = ingest_failure(IngestRoute::batch, body);
    EXPECT_EQ(error.code, errc::invalid_request);
    EXPECT_EQ(error.message, message);
    EXPECT_EQ(error.path, path);
    EXPECT_EQ(ingest_error(error).status, 400);
  }
  EXPECT_EQ(merge_batch_level_fields("{}", R"({"context":1})").error().path, "context");
  // null beside "batch" is no context at all.
  EXPECT_EQ(ingest(IngestRoute::batch, json{{"batch", {identify(1)}}, {"context", nullptr}}.dump()).accepted.size(), 1u);
}

TEST(IngestBatchLevel, TheBatchLevelContextReachesEveryEventThatLacksIt) {
  json no_context = custom_event(1);
  no_context.erase("context");
  json own_traits = custom_event(2);
  own_traits["context"] = {{"traits", {{"email", "own@example.com"}}}};
  json context_without_traits = custom_event(3);
  context_without_traits["context"] = {{"ip", "9.9.9.9"}};
  json identify_without_listing = identify(4);
  identify_without_listing["context"]["traits"].erase("listingId");
  const json body = {{"batch", {no_context, own_traits, context_without_traits, identify_without_listing}},
                     {"context", {{"traits", {{"email", "batch@example.com"}, {"listingId", "l-batch"}}}}},
                     {"integrations", {{"All", true}}}};
  const auto r = ingest(IngestRoute::batch, body.dump());
  ASSERT_EQ(r.accepted.size(), 4u) << ingest_answer(r).body;
  EXPECT_EQ(json::parse(r.accepted[0].record.json)["identity_email"], "batch@example.com");
  EXPECT_EQ(json::parse(r.accepted[1].record.json)["identity_email"], "own@example.com");
  EXPECT_EQ(json::parse(r.accepted[2].record.json)["identity_email"], "batch@example.com");
  // Shallow: the identify's own context.traits wins wholesale, so the batch-level listingId is not added to it;
  // it gets the source's contact id (its userId, the default of contact_id: docs/sources.md) instead.
  EXPECT_EQ(r.accepted[3].index, 3u);
  EXPECT_EQ(json::parse(r.accepted[3].record.json)["id"], "u4");
  EXPECT_TRUE(r.rejected.empty());

  // Without the batch-level context the first and third events have no email: rejected with the contract's words.
  json plain = body;
  plain.erase("context");
  // (The identify has its own e-mail, and its userId as its contact id.)
  const auto without = ingest(IngestRoute::batch, plain.dump());
  ASSERT_EQ(without.rejected.size(), 2u);
  EXPECT_EQ(without.rejected[0].index, 0u);
  EXPECT_EQ(without.rejected[0].error, R"(Missing required value from ["traits.email","context.traits.email","properties.email"])");
  EXPECT_EQ(without.rejected[1].index, 2u);
}

TEST(IngestBatchLevel, BatchLevelIntegrationsReachIdentifies) {
  // integrations.Ometria.listingId sets a contact's id (contract: identify step 5); an event's own
  // integrations.Ometria replaces the batch-level one as a whole.
  json without_listing = identify(1);
  without_listing["context"]["traits"].erase("listingId");
  json own_integrations = without_listing;
  own_integrations["userId"] = "u2";
  own_integrations["integrations"] = {{"Ometria", {{"marketingOptin", "EXPLICITLY_OPTEDIN"}}}};
  const json body = {{"batch", {without_listing, own_integrations}},
                     {"integrations", {{"Ometria", {{"listingId", "l-batch"}}}}}};
  const auto r = ingest(IngestRoute::batch, body.dump());
  ASSERT_EQ(r.accepted.size(), 2u) << ingest_answer(r).body;
  EXPECT_EQ(json::parse(r.accepted[0].record.json)["id"], "l-batch");
  // The own integrations.Ometria has no listingId, so the batch-level one is not used: the source's contact id
  // (the userId, contact_id's default) is.
  EXPECT_EQ(json::parse(r.accepted[1].record.json)["id"], "u2");
  EXPECT_TRUE(r.rejected.empty());

  // With contact_id "none" (rudder-transformer's rule) the second is refused, as before.
  auto source = source_of(destination());
  source.mapping.contact_ids.from = omt::sources::ContactIdFrom::none;
  const auto strict = ingest_events(IngestRoute::batch, body.dump(), transformer(), source, {});
  ASSERT_TRUE(strict) << strict.error().message;
  ASSERT_EQ(strict->rejected.size(), 1u);
  EXPECT_EQ(strict->rejected[0].index, 1u);
  EXPECT_EQ(strict->rejected[0].error, "Parameter listingId is required for identify");
}

TEST(IngestShapes, InvalidJsonNamesTheByteOffset) {
  const auto error = ingest_failure(IngestRoute::batch, R"({"batch":[{"type":"identify",}]})");
  EXPECT_EQ(error.code, errc::invalid_json);
  EXPECT_EQ(error.message.rfind("Invalid JSON at byte 29", 0), 0u) << error.message;
  const Reply reply = ingest_error(error);
  EXPECT_EQ(reply.status, 400);
  EXPECT_FALSE(reply.api_version_header);
  EXPECT_EQ(json::parse(reply.body)["error"], error.message);

  EXPECT_EQ(ingest_failure(IngestRoute::track, "").code, errc::invalid_json);
}

TEST(IngestShapes, TooManyEventsIs413) {
  IngestLimits limits;
  limits.max_events_per_request = 3;
  json events = json::array({identify(0), identify(1), identify(2)});
  EXPECT_EQ(ingest(IngestRoute::batch, json{{"batch", events}}.dump(), limits).accepted.size(), 3u);
  events.push_back(identify(3));
  auto error = ingest_failure(IngestRoute::batch, json{{"batch", events}}.dump(), limits);
  EXPECT_EQ(error.code, errc::too_large);
  EXPECT_EQ(error.message, "Too many events in one request: 4 (at most 3)");
  EXPECT_EQ(ingest_error(error).status, 413);
  error = ingest_failure(IngestRoute::webhook, events.dump(), limits);
  EXPECT_EQ(error.code, errc::too_large);
}

TEST(IngestShapes, RecordsOverTheSizeLimitAreRejected) {
  // Ometria's 60 KB limit (ometria::check_record_size, in the transformer).
  json small = identify(1);
  json huge = identify(3);
  huge["traits"]["notes"] = std::string(70 * 1024, 'y');
  auto r = ingest(IngestRoute::webhook, json::array({small, huge}).dump());
  ASSERT_EQ(r.accepted.size(), 1u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].index, 1u);
  EXPECT_NE(r.rejected[0].error.find("60 KB"), std::string::npos) << r.rejected[0].error;
}

TEST(IngestShapes, TheSourcesDestinationSettingsApply) {
  auto d = destination("key-collection");
  d.collection = "web-shop";
  d.marketing_optin = "EXPLICITLY_OPTEDIN";
  auto r = ingest_events(IngestRoute::identify, identify(1).dump(), transformer(), source_of(d), {});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->accepted.size(), 1u);
  const json record = json::parse(r->accepted[0].record.json);
  EXPECT_EQ(record["@collection"], "web-shop");
  EXPECT_EQ(record["marketing_optin"], "EXPLICITLY_OPTEDIN");

  // No API key: every event fails the contract's check.
  r = ingest_events(IngestRoute::identify, identify(1).dump(), transformer(), source_of(destination("")), {});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rejected.size(), 1u);
  EXPECT_EQ(r->rejected[0].error, "Invalid Api Key");
}

// ---- answers ----------------------------------------------------------------------------------------------------

TEST(IngestAnswers, AcceptedAndRejected) {
  auto r = ingest(IngestRoute::batch, json{{"batch", json::array({identify(0), 7, identify(2)})}}.dump());
  Reply reply = ingest_answer(r);
  EXPECT_EQ(reply.status, 200);
  EXPECT_FALSE(reply.api_version_header);
  EXPECT_EQ(reply.body, R"({"accepted":2,"rejected":[{"index":1,"error":"Expected an event object, got number"}]})");
  EXPECT_TRUE(has_anything_to_store(r));
  // The number is not an event: listed, with nothing to keep.
  EXPECT_FALSE(is_event(r.rejected[0]));

  r = ingest(IngestRoute::batch, json{{"batch", json::array({identify(0), identify(1)})}}.dump());
  EXPECT_EQ(ingest_answer(r).body, R"({"accepted":2,"rejected":[]})");
}

TEST(IngestAnswers, RejectedEventsAreKeptSoNothingAcceptedIsStillA200WithTheReasons) {
  auto r = ingest(IngestRoute::webhook, json::array({json{{"type", "pageview"}}, json{{"type", "purchase"}}}).dump());
  EXPECT_TRUE(r.accepted.empty());
  EXPECT_TRUE(has_anything_to_store(r));  // the rejected events, for replay
  const Reply reply = ingest_answer(r);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body,
            R"({"accepted":0,"rejected":[{"index":0,"error":"message type pageview is not supported"},)"
            R"({"index":1,"error":"message type purchase is not supported"}]})");
  ASSERT_EQ(r.rejected.size(), 2u);
  EXPECT_EQ(r.rejected[0].event, R"({"type":"pageview"})");
  EXPECT_EQ(r.rejected[1].event, R"({"type":"purchase"})");
}

TEST(IngestAnswers, ARequestOfItemsThatAreNoEventsAtAllIsStill400) {
  auto r = ingest(IngestRoute::batch, json{{"batch", json::array({1, "two", json::array()})}}.dump());
  ASSERT_EQ(r.rejected.size(), 3u);
  EXPECT_FALSE(has_anything_to_store(r));
  const Reply reply = ingest_answer(r);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body,
            R"({"accepted":0,"rejected":[{"index":0,"error":"Expected an event object, got number"},)"
            R"({"index":1,"error":"Expected an event object, got string"},)"
            R"({"index":2,"error":"Expected an event object, got array"}]})");
  // One event object among them is enough for a 200: it is kept.
  r = ingest(IngestRoute::batch, json{{"batch", json::array({1, json{{"type", "x"}}})}}.dump());
  EXPECT_EQ(ingest_answer(r).status, 200);
  EXPECT_TRUE(has_anything_to_store(r));
}

TEST(IngestAnswers, ARejectedEventIsKeptAsItWasTransformed) {
  // The route's type added, and a batch's context merged in: replay transforms exactly what ingest did.
  auto single = ingest(IngestRoute::track, R"({"event":"x"})");
  ASSERT_EQ(single.rejected.size(), 1u);
  EXPECT_EQ(single.rejected[0].event, R"({"type":"track","event":"x"})");

  json bad = identify(1);
  bad["context"]["traits"].erase("listingId");
  bad.erase("context");
  bad.erase("userId");  // no listing id, and no userId to make one from (the source's contact_id)
  bad["traits"] = {{"email", "a@example.com"}};
  const json body = {{"context", {{"ip", "203.0.113.9"}}}, {"batch", json::array({bad})}};
  auto merged = ingest(IngestRoute::batch, body.dump());
  ASSERT_EQ(merged.rejected.size(), 1u);
  const json kept = json::parse(merged.rejected[0].event);
  EXPECT_EQ(kept["context"]["ip"], "203.0.113.9");
  EXPECT_EQ(kept["traits"]["email"], "a@example.com");
}

TEST(IngestAnswers, AStoredEventIsTransformedAgainWithTodaysSettings) {
  omt::config::SourceConfig source;
  source.name = "web";
  source.destination = destination();
  auto record = transform_stored_event(identify(1).dump(), transformer(), source);
  ASSERT_TRUE(record) << record.error().message;
  ASSERT_TRUE(*record);
  EXPECT_EQ((*record)->type, omt::ometria::RecordType::contact);
  auto still = transform_stored_event(R"({"type":"pageview"})", transformer(), source);
  ASSERT_FALSE(still);
  EXPECT_EQ(still.error().message, "message type pageview is not supported");
  // A call Ometria has no record for is skipped, as ingest would.
  auto skipped = transform_stored_event(R"({"type":"page"})", transformer(), source);
  ASSERT_TRUE(skipped);
  EXPECT_FALSE(*skipped);
  EXPECT_FALSE(transform_stored_event("not json", transformer(), source));
  EXPECT_EQ(transform_stored_event("[1]", transformer(), source).error().message, "Expected an event object, got array");
}

TEST(IngestAnswers, CallsOmetriaHasNoRecordForAreSkippedAndNeverMakeA400) {
  auto r = ingest(IngestRoute::batch,
                  json{{"batch", json::array({json{{"type", "PAGE"}}, identify(1), json{{"type", "group"}}, json{{"type", "x"}}})}}.dump());
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0].index, 0u);
  EXPECT_EQ(r.skipped[0].type, "page");
  EXPECT_EQ(r.skipped[1].type, "group");
  EXPECT_EQ(ingest_answer(r).body,
            R"({"accepted":1,"skipped":2,"rejected":[{"index":3,"error":"message type x is not supported"}]})");
  // Skipped and rejected, nothing accepted: the skipped calls are fine, so 200.
  auto none = ingest(IngestRoute::webhook, json::array({json{{"type", "screen"}}, json{{"type", "x"}}}).dump());
  EXPECT_EQ(ingest_answer(none).status, 200);
  // A route's own type is the default, as for /v1/track.
  auto alias = ingest(IngestRoute::alias, R"({"previousId":"a","userId":"b"})");
  ASSERT_EQ(alias.skipped.size(), 1u);
  EXPECT_EQ(alias.skipped[0].type, "alias");
  EXPECT_EQ(ingest_answer(alias).status, 200);
}

TEST(IngestAnswers, DryRunGroupsAsDeliveryWouldBatch) {
  IngestLimits limits;
  limits.max_batch_records = 2;
  // contacts 0, 1, 3 -> two contact batches (2 + 1); custom events 2, 5 -> one batch; order 4 -> one batch.
  json events = json::array({identify(0), identify(1), custom_event(2), identify(3), order(4), custom_event(5), 1});
  auto r = ingest(IngestRoute::batch, json{{"batch", events}}.dump(), limits);
  std::vector<std::string> named;
  const Reply reply = dry_run_answer(r, "key-1", limits, [&](std::string_view key) {
    named.emplace_back(key);
    return "key:" + std::to_string(key.size());
  });
  EXPECT_EQ(reply.status, 200);
  const json body = json::parse(reply.body);
  EXPECT_EQ(body["dry_run"], true);
  EXPECT_EQ(body["accepted"], 6);
  ASSERT_EQ(body["batches"].size(), 4u);
  EXPECT_EQ(body["batches"][0]["type"], "contact");
  EXPECT_EQ(body["batches"][0]["records"].size(), 2u);
  EXPECT_EQ(body["batches"][0]["records"][1]["id"], json::parse(r.accepted[1].record.json)["id"]);
  EXPECT_EQ(body["batches"][1]["type"], "custom_event");
  EXPECT_EQ(body["batches"][1]["records"].size(), 2u);
  EXPECT_EQ(body["batches"][2]["type"], "contact");
  EXPECT_EQ(body["batches"][2]["records"].size(), 1u);
  EXPECT_EQ(body["batches"][3]["type"], "order");
  for (const auto& batch : body["batches"]) EXPECT_EQ(batch["api_key"], "key:5");
  EXPECT_EQ(reply.body.find("key-1"), std::string::npos);  // the key itself is never echoed
  ASSERT_FALSE(named.empty());
  EXPECT_EQ(named[0], "key-1");
  ASSERT_EQ(body["rejected"].size(), 1u);
  EXPECT_EQ(body["rejected"][0]["index"], 6);

  // A dry run answers as the real request would: a rejected event is a 200 (the real request keeps it), a body of
  // no events at all a 400.
  r = ingest(IngestRoute::track, R"({"event":"x"})");
  const Reply none = dry_run_answer(r, "key-1", limits, [](std::string_view) { return std::string("k"); });
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(json::parse(none.body)["batches"], json::array());
  r = ingest(IngestRoute::webhook, "[1]");
  EXPECT_EQ(dry_run_answer(r, "key-1", limits, [](std::string_view) { return std::string("k"); }).status, 400);
}

TEST(IngestAnswers, PathsOfRoutes) {
  EXPECT_EQ(path_of(IngestRoute::webhook), "/v1/webhook");
  EXPECT_EQ(path_of(IngestRoute::identify), "/v1/identify");
  EXPECT_EQ(path_of(IngestRoute::track), "/v1/track");
  EXPECT_EQ(path_of(IngestRoute::batch), "/v1/batch");
  EXPECT_FALSE(uses_write_key(IngestRoute::webhook));
  EXPECT_TRUE(uses_write_key(IngestRoute::batch));
}

}  // namespace

TEST(IngestSlowDown, NothingBelowTheThresholdThenInProportionUpToTheMaximumAtTheHighWaterMark) {
  using std::chrono::milliseconds;
  omt::protocol::IngestLimits limits;
  limits.slow_down_from = 100'000;
  limits.max_slow_down = milliseconds(1000);
  const std::uint64_t high_water = 1'100'000;
  EXPECT_EQ(omt::protocol::ingest_slow_down(0, high_water, limits), milliseconds(0));
  EXPECT_EQ(omt::protocol::ingest_slow_down(99'999, high_water, limits), milliseconds(0));
  EXPECT_EQ(omt::protocol::ingest_slow_down(100'000, high_water, limits), milliseconds(1));  // held from the first record over
  EXPECT_EQ(omt::protocol::ingest_slow_down(600'000, high_water, limits), milliseconds(500));
  EXPECT_EQ(omt::protocol::ingest_slow_down(1'100'000, high_water, limits), milliseconds(1000));
  EXPECT_EQ(omt::protocol::ingest_slow_down(5'000'000, high_water, limits), milliseconds(1000));
  // A threshold at or over the high-water mark holds back fully from the threshold on.
  EXPECT_EQ(omt::protocol::ingest_slow_down(2'000'000, 1'000'000, {.slow_down_from = 2'000'000}), milliseconds(1000));
  EXPECT_EQ(omt::protocol::ingest_slow_down(1'999'999, 1'000'000, {.slow_down_from = 2'000'000}), milliseconds(0));
}

TEST(IngestSlowDown, OffWhenTheThresholdOrTheMaximumIsZero) {
  using std::chrono::milliseconds;
  EXPECT_EQ(omt::protocol::ingest_slow_down(900'000, 1'000'000, {.slow_down_from = 0}), milliseconds(0));
  EXPECT_EQ(omt::protocol::ingest_slow_down(900'000, 1'000'000, {.slow_down_from = 10, .max_slow_down = milliseconds(0)}),
            milliseconds(0));
}
