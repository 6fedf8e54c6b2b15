#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "omt/delivery/batcher.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::Batch;
using omt::delivery::Batcher;
using omt::delivery::BatcherOptions;
using omt::delivery::BatchKey;
using omt::delivery::BatchRecord;
using omt::delivery::RecordType;
using omt::delivery::SteadyTime;

const SteadyTime kStart{std::chrono::seconds{50}};

BatchRecord record(std::int64_t id) {
  return BatchRecord{id, R"({"@type":"contact","id":")" + std::to_string(id) + "\"}"};
}

TEST(RecordTypeNames, RoundTrip) {
  for (auto type : {RecordType::contact, RecordType::order, RecordType::custom_event}) {
    EXPECT_EQ(omt::ometria::record_type_from(omt::ometria::to_string(type)), type);
  }
  EXPECT_EQ(omt::ometria::to_string(RecordType::custom_event), "custom_event");
  EXPECT_FALSE(omt::ometria::record_type_from("product").has_value());
  EXPECT_FALSE(omt::ometria::record_type_from("Contact").has_value());
}

TEST(Batcher, EmitsAFullBatchAtOneHundredRecords) {
  Batcher batcher;
  const BatchKey key{"k1", RecordType::contact};
  for (int i = 1; i < 100; ++i) {
    auto added = batcher.add(key, record(i), kStart);
    ASSERT_TRUE(added);
    EXPECT_FALSE(added->has_value()) << i;
  }
  EXPECT_EQ(batcher.pending_records(), 99u);
  auto added = batcher.add(key, record(100), kStart);
  ASSERT_TRUE(added && added->has_value());
  const Batch& batch = **added;
  EXPECT_EQ(batch.key, key);
  ASSERT_EQ(batch.records.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(batch.records[i].id, i + 1);  // order kept
  EXPECT_EQ(batcher.pending_records(), 0u);
  EXPECT_EQ(batcher.open_batches(), 0u);
  EXPECT_FALSE(batcher.next_due().has_value());
}

TEST(Batcher, GroupsByKeyAndType) {
  Batcher batcher(BatcherOptions{3, 60 * 1024, 200ms});
  const BatchKey a_contact{"a", RecordType::contact}, a_order{"a", RecordType::order},
      b_contact{"b", RecordType::contact};
  ASSERT_TRUE(batcher.add(a_contact, record(1), kStart));
  ASSERT_TRUE(batcher.add(a_order, record(2), kStart));
  ASSERT_TRUE(batcher.add(b_contact, record(3), kStart));
  ASSERT_TRUE(batcher.add(a_contact, record(4), kStart));
  EXPECT_EQ(batcher.open_batches(), 3u);
  auto full = batcher.add(a_contact, record(5), kStart);
  ASSERT_TRUE(full && full->has_value());
  EXPECT_EQ((*full)->key, a_contact);
  std::vector<std::int64_t> ids;
  for (const auto& r : (*full)->records) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 4, 5}));
  auto rest = batcher.take_all();
  ASSERT_EQ(rest.size(), 2u);
  for (const auto& b : rest) {
    ASSERT_EQ(b.records.size(), 1u);
    EXPECT_EQ(b.records[0].id, b.key == a_order ? 2 : 3);
  }
  EXPECT_EQ(batcher.pending_records(), 0u);
}

TEST(Batcher, LingerHandsOutPartialBatchesOnTime) {
  Batcher batcher;  // 200 ms linger
  const BatchKey first{"a", RecordType::custom_event}, second{"b", RecordType::custom_event};
  ASSERT_TRUE(batcher.add(first, record(1), kStart));
  ASSERT_TRUE(batcher.add(second, record(2), kStart + 150ms));
  ASSERT_TRUE(batcher.add(first, record(3), kStart + 190ms));  // does not restart the first batch's linger
  EXPECT_EQ(batcher.next_due(), kStart + 200ms);
  EXPECT_TRUE(batcher.take_due(kStart + 199ms).empty());
  auto due = batcher.take_due(kStart + 200ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].key, first);
  EXPECT_EQ(due[0].records.size(), 2u);
  EXPECT_EQ(batcher.next_due(), kStart + 350ms);
  EXPECT_TRUE(batcher.take_due(kStart + 349ms).empty());
  due = batcher.take_due(kStart + 350ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].key, second);
  EXPECT_EQ(batcher.pending_records(), 0u);
  EXPECT_FALSE(batcher.next_due().has_value());
}

TEST(Batcher, RefusesARecordOverSixtyKilobytes) {
  Batcher batcher;
  const BatchKey key{"a", RecordType::order};
  const std::string at_limit = "\"" + std::string(60 * 1024 - 2, 'x') + "\"";
  ASSERT_EQ(at_limit.size(), 61'440u);
  auto ok = batcher.add(key, BatchRecord{1, at_limit}, kStart);
  ASSERT_TRUE(ok);
  auto refused = batcher.add(key, BatchRecord{2, at_limit + " "}, kStart);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, omt::errc::too_large);
  EXPECT_NE(refused.error().message.find("61441"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("61440"), std::string::npos) << refused.error().message;
  EXPECT_EQ(batcher.pending_records(), 1u);  // the refused record was not kept
}

TEST(GroupIntoBatches, SplitsByKeyTypeAndSizeAndReportsRefusals) {
  std::vector<std::pair<BatchKey, std::string>> input;
  for (int i = 0; i < 205; ++i) input.emplace_back(BatchKey{"a", RecordType::contact}, record(i).json);
  input.emplace_back(BatchKey{"a", RecordType::order}, "{}");
  input.emplace_back(BatchKey{"b", RecordType::contact}, std::string(60 * 1024 + 1, 'x'));
  input.emplace_back(BatchKey{"b", RecordType::contact}, "{}");
  auto grouped = omt::delivery::group_into_batches(input);
  ASSERT_EQ(grouped.batches.size(), 5u);
  // Batches appear in the order their first record does.
  EXPECT_EQ(grouped.batches[0].records.size(), 100u);
  EXPECT_EQ(grouped.batches[1].records.size(), 100u);
  EXPECT_EQ(grouped.batches[2].records.size(), 5u);
  EXPECT_EQ(grouped.batches[2].key, (BatchKey{"a", RecordType::contact}));
  EXPECT_EQ(grouped.batches[3].key, (BatchKey{"a", RecordType::order}));
  EXPECT_EQ(grouped.batches[4].key, (BatchKey{"b", RecordType::contact}));
  EXPECT_EQ(grouped.batches[4].records.size(), 1u);
  ASSERT_EQ(grouped.refused.size(), 1u);
  EXPECT_EQ(grouped.refused[0].first, 206u);
  EXPECT_EQ(grouped.refused[0].second.code, omt::errc::too_large);
}

TEST(PushRequest, BodyIsAJsonArrayOfTheRecordsAndHeadersCarryTheKey) {
  std::vector<BatchRecord> records{record(1), record(2), BatchRecord{3, R"({"@type":"contact","id":"x","n":[1,2]})"}};
  auto request = omt::delivery::build_push_request("secret-key", records);
  EXPECT_EQ(request.body, std::string("[") + records[0].json + "," + records[1].json + "," + records[2].json + "]");
  auto parsed = nlohmann::json::parse(request.body);
  ASSERT_TRUE(parsed.is_array());
  EXPECT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[2]["n"][1], 2);
  EXPECT_EQ(request.record_count, 3u);
  ASSERT_EQ(request.headers.size(), 2u);
  EXPECT_EQ(request.headers[0], (std::pair<std::string, std::string>{"Content-Type", "application/json"}));
  EXPECT_EQ(request.headers[1], (std::pair<std::string, std::string>{"X-Ometria-Auth", "secret-key"}));
  EXPECT_EQ(omt::delivery::build_push_request("k", std::span<const BatchRecord>{}).body, "[]");
  Batch one{BatchKey{"k", RecordType::contact}, {record(9)}};
  EXPECT_EQ(omt::delivery::build_push_request(one).body, "[" + record(9).json + "]");
}

TEST(PushResponse, ParsesTheDocumentedBody) {
  auto r = omt::delivery::parse_push_response(R"({"status":"OK","request_id":"r-1","accepted":98,"rejected":2})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->request_id, "r-1");
  EXPECT_EQ(r->accepted, 98);
  EXPECT_EQ(r->rejected, 2);
}

TEST(PushResponse, ToleratesMissingMistypedAndExtraFields) {
  auto r = omt::delivery::parse_push_response(R"( {"status":"OK","extra":{"a":[1]},"accepted":"3","rejected":-1} )");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(r->request_id.empty());
  EXPECT_FALSE(r->accepted.has_value());
  EXPECT_FALSE(r->rejected.has_value());
  auto numeric_id = omt::delivery::parse_push_response(R"({"request_id":12345,"accepted":1.5})");
  ASSERT_TRUE(numeric_id);
  EXPECT_FALSE(numeric_id->ok());
  EXPECT_EQ(numeric_id->request_id, "12345");
  EXPECT_FALSE(numeric_id->accepted.has_value());
  auto empty = omt::delivery::parse_push_response("{}");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->ok());
}

TEST(PushResponse, RefusesWhatIsNotAnObjectWithoutThrowing) {
  for (const std::string body : {"", "OK", "[1,2]", "\"OK\"", "{\"status\":", "{\"status\":\"OK\"}garbage",
                                 "<html>502 Bad Gateway</html>", "null", "\xff\xfe"}) {
    EXPECT_FALSE(omt::delivery::parse_push_response(body).has_value()) << body;
  }
  EXPECT_FALSE(omt::delivery::parse_push_response(std::string(100'000, '[') + std::string(100'000, ']')));
  EXPECT_FALSE(omt::delivery::parse_push_response("{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "}"));
  const std::string huge = "{\"status\":\"OK\",\"pad\":\"" + std::string(70'000, 'x') + "\"}";
  EXPECT_FALSE(omt::delivery::parse_push_response(huge).has_value());
}

}  // namespace
