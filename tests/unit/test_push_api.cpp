// Ometria's push API facts: the size check and its one message, the push body, the receipt, and the grouping
// of records into pushes that the router, the dry run and delivery share.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "omt/ometria/push_api.hpp"

namespace {

using omt::ometria::PushKey;
using omt::ometria::RecordType;
using omt::ometria::check_record_size;
using omt::ometria::group_into_pushes;
using omt::ometria::parse_push_answer;
using omt::ometria::push_body;

TEST(RecordSize, SixtyKilobytesFitOneMoreByteDoesNot) {
  EXPECT_EQ(omt::ometria::max_record_bytes, 61'440u);
  EXPECT_TRUE(check_record_size(61'440));
  const auto refused = check_record_size(61'441);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, omt::errc::instrumentation);
  EXPECT_EQ(refused.error().message, "Record is larger than Ometria's 60 KB limit (61441 bytes)");
  // A whole request refused for it keeps the message and takes the caller's code.
  const auto request = check_record_size(70'000, omt::errc::too_large);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, omt::errc::too_large);
  EXPECT_EQ(request.error().message, "Record is larger than Ometria's 60 KB limit (70000 bytes)");
}

TEST(PushBody, IsAJsonArrayOfTheRecordsInOrder) {
  const std::vector<std::string_view> records{R"({"id":"a"})", R"({"id":"b","n":[1,2]})"};
  const std::string body = push_body(records);
  EXPECT_EQ(body, R"([{"id":"a"},{"id":"b","n":[1,2]}])");
  EXPECT_EQ(nlohmann::json::parse(body).size(), 2u);
  EXPECT_EQ(push_body({}), "[]");
}

TEST(PushAnswer, ParsesTheDocumentedBody) {
  auto r = parse_push_answer(R"({"status":"OK","request_id":"r-1","accepted":98,"rejected":2})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->request_id, "r-1");
  EXPECT_EQ(r->accepted, 98);
  EXPECT_EQ(r->rejected, 2);
}

TEST(PushAnswer, ToleratesMissingMistypedAndExtraFields) {
  auto r = parse_push_answer(R"( {"status":"OK","extra":{"a":[1]},"accepted":"3","rejected":-1} )");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(r->request_id.empty());
  EXPECT_FALSE(r->accepted.has_value());
  EXPECT_FALSE(r->rejected.has_value());
  auto numeric_id = parse_push_answer(R"({"request_id":12345,"accepted":1.5})");
  ASSERT_TRUE(numeric_id);
  EXPECT_FALSE(numeric_id->ok());
  EXPECT_EQ(numeric_id->request_id, "12345");
  EXPECT_FALSE(numeric_id->accepted.has_value());
  auto empty = parse_push_answer("{}");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->ok());
}

TEST(PushAnswer, RefusesWhatIsNotAnObjectWithoutThrowing) {
  for (const std::string body : {"", "OK", "[1,2]", "\"OK\"", "{\"status\":", "{\"status\":\"OK\"}garbage",
                                 "<html>502 Bad Gateway</html>", "null", "\xff\xfe"}) {
    EXPECT_FALSE(parse_push_answer(body).has_value()) << body;
  }
  EXPECT_FALSE(parse_push_answer(std::string(100'000, '[') + std::string(100'000, ']')));
  EXPECT_FALSE(parse_push_answer("{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "}"));
  const std::string huge = "{\"status\":\"OK\",\"pad\":\"" + std::string(70'000, 'x') + "\"}";
  EXPECT_FALSE(parse_push_answer(huge).has_value());
}

TEST(GroupIntoPushes, ByKeyAndTypeInOrderOfFirstAppearanceAtMostAHundredEach) {
  std::vector<PushKey> keys;
  for (int i = 0; i < 205; ++i) keys.push_back({"a", RecordType::contact});  // 0..204
  keys.push_back({"a", RecordType::order});                                 // 205
  keys.push_back({"b", RecordType::contact});                               // 206
  keys.push_back({"a", RecordType::contact});                               // 207: joins a's contacts
  const auto pushes = group_into_pushes(keys);
  ASSERT_EQ(pushes.size(), 5u);
  EXPECT_EQ(pushes[0].size(), 100u);
  EXPECT_EQ(pushes[0].front(), 0u);
  EXPECT_EQ(pushes[1].size(), 100u);
  EXPECT_EQ(pushes[2], (std::vector<std::size_t>{200, 201, 202, 203, 204, 207}));
  EXPECT_EQ(pushes[3], (std::vector<std::size_t>{205}));
  EXPECT_EQ(pushes[4], (std::vector<std::size_t>{206}));
  EXPECT_TRUE(group_into_pushes({}).empty());
}

TEST(GroupIntoPushes, SmallerPushesAndNeverZero) {
  const std::vector<PushKey> keys(5, PushKey{"k", RecordType::custom_event});
  EXPECT_EQ(group_into_pushes(keys, 2), (std::vector<std::vector<std::size_t>>{{0, 1}, {2, 3}, {4}}));
  EXPECT_EQ(group_into_pushes(keys, 0).size(), 5u);  // 0 is taken as 1
}

}  // namespace
