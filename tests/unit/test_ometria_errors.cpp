// What Ometria rejected after a 2xx (GET /v2/push/_errors), the pure parts: the errors URL, reading an answer of
// either shape (documented, and with the UNVERIFIED ids) within its limits, the digest that tells one entry from
// another across polls, a record's id, the poll schedule (0 = off) and matching errors to our recent pushes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "omt/delivery/ometria_errors.hpp"
#include "omt/ometria/push_api.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::ErrorPollSchedule;
using omt::delivery::PushedRecords;
using omt::delivery::RecentPushes;
using omt::ometria::OmetriaError;
using omt::ometria::parse_errors_answer;

TEST(OmetriaErrorsUrl, IsThePushEndpointsErrorsList) {
  using omt::ometria::errors_endpoint_for;
  EXPECT_EQ(errors_endpoint_for("https://api.ometria.com/v2/push"), "https://api.ometria.com/v2/push/_errors");
  EXPECT_EQ(errors_endpoint_for("http://127.0.0.1:8080/v2/push/"), "http://127.0.0.1:8080/v2/push/_errors");
  EXPECT_EQ(errors_endpoint_for("https://proxy.example/v2/push?tenant=a"), "https://proxy.example/v2/push/_errors?tenant=a");
}

TEST(OmetriaErrorsAnswer, TheDocumentedShapeHasMessagesAndPathsOnly) {
  const auto list = parse_errors_answer(
      R"([{"error_message":"Invalid email","error_path":"root > email"},{"error_message":"Missing id","error_path":"root"}])");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->errors.size(), 2u);
  EXPECT_EQ(list->errors[0].message, "Invalid email");
  EXPECT_EQ(list->errors[0].path, "root > email");
  EXPECT_FALSE(list->errors[0].record_id);
  EXPECT_FALSE(list->errors[0].request_id);
  EXPECT_EQ(list->errors[1].message, "Missing id");
  EXPECT_EQ(list->ignored, 0u);
  const auto empty = parse_errors_answer("[]");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->errors.empty());
}

TEST(OmetriaErrorsAnswer, TheShapeWithIdsIsReadWhenTheAnswerCarriesThem) {
  const auto list = parse_errors_answer(
      R"([{"error_message":"Bad","error_path":"root > lastname","record_id":"c-1","request_id":"r-9",)"
      R"("record_type":"contact","time_stamp":"2026-12-01T10:00:00Z"},)"
      R"({"error_message":"Bad too","record_id":42,"request_id":7,"record_type":true}])");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->errors.size(), 2u);
  const OmetriaError& first = list->errors[0];
  EXPECT_EQ(first.record_id, "c-1");
  EXPECT_EQ(first.request_id, "r-9");
  EXPECT_EQ(first.record_type, "contact");
  EXPECT_EQ(first.time_stamp, "2026-12-01T10:00:00Z");
  const OmetriaError& second = list->errors[1];
  EXPECT_EQ(second.record_id, "42");  // integer ids as their digits
  EXPECT_EQ(second.request_id, "7");
  EXPECT_FALSE(second.record_type) << "a field of another type is absent, not invented";
  EXPECT_EQ(second.path, "");
}

TEST(OmetriaErrorsAnswer, AnObjectWrappingTheListIsReadToo) {
  for (const char* body : {R"({"errors":[{"error_message":"x"}]})", R"({"data":[{"error_message":"x"}]})"}) {
    const auto list = parse_errors_answer(body);
    ASSERT_TRUE(list) << body;
    ASSERT_EQ(list->errors.size(), 1u) << body;
    EXPECT_EQ(list->errors[0].message, "x");
  }
}

TEST(OmetriaErrorsAnswer, GarbageIsAnErrorAndUnreadableEntriesAreCountedNotKept) {
  for (const char* body : {"", "not json", "42", R"("text")", R"({"status":"OK"})", R"({"errors":"none"})", "[{"}) {
    const auto list = parse_errors_answer(body);
    ASSERT_FALSE(list) << body;
    EXPECT_EQ(list.error().code, omt::errc::invalid_json) << body;
  }
  const auto mixed = parse_errors_answer(R"([1, "x", null, {}, {"error_message":[7]}, {"error_path":"root > a"}])");
  ASSERT_TRUE(mixed);
  ASSERT_EQ(mixed->errors.size(), 1u);
  EXPECT_EQ(mixed->errors[0].path, "root > a");
  EXPECT_EQ(mixed->ignored, 5u);
}

TEST(OmetriaErrorsAnswer, ItsLimitsHold) {
  // The whole answer.
  std::string huge = R"([{"error_message":")" + std::string(omt::ometria::max_errors_answer_bytes, 'a') + R"("}])";
  const auto too_large = parse_errors_answer(huge);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, omt::errc::too_large);
  // Nesting, refused before any recursive parser sees it.
  const std::string deep = "[" + std::string(100, '[') + std::string(100, ']') + "]";
  EXPECT_FALSE(parse_errors_answer(deep));
  // Entries: the first max_errors_per_answer are kept, the rest counted.
  nlohmann::json many = nlohmann::json::array();
  for (std::size_t i = 0; i < omt::ometria::max_errors_per_answer + 5; ++i) many.push_back({{"error_message", std::to_string(i)}});
  const auto cut = parse_errors_answer(many.dump());
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->errors.size(), omt::ometria::max_errors_per_answer);
  EXPECT_EQ(cut->ignored, 5u);
  // Texts: cut to the limit, never inside a UTF-8 character ("é" is two bytes).
  const std::string long_text = "a" + [] {
    std::string s;
    for (int i = 0; i < 2000; ++i) s += "\xc3\xa9";
    return s;
  }();
  const auto texts = parse_errors_answer(nlohmann::json::array({{{"error_message", long_text}}}).dump());
  ASSERT_TRUE(texts);
  const std::string& message = texts->errors[0].message;
  EXPECT_LE(message.size(), omt::ometria::max_error_text_bytes);
  EXPECT_GE(message.size(), omt::ometria::max_error_text_bytes - 1);
  EXPECT_FALSE(nlohmann::json::parse(nlohmann::json(message).dump(), nullptr, false).is_discarded());
  EXPECT_EQ(message.size() % 2, 1u) << "the leading 'a' and whole two-byte characters only";
}

TEST(OmetriaErrorDigest, IsStableAndTellsEveryFieldApart) {
  OmetriaError error{"Invalid email", "root > email", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  // Fixed across runs and builds: a kept error is recognised by the next process too.
  EXPECT_EQ(omt::ometria::error_digest(error), omt::ometria::error_digest(error));
  EXPECT_EQ(omt::ometria::error_digest(error).size(), 16u);
  EXPECT_EQ(omt::ometria::error_digest(error), "5c345af883785e38");
  auto other = error;
  other.record_id = "";
  EXPECT_NE(omt::ometria::error_digest(other), omt::ometria::error_digest(error)) << "absent is not empty";
  auto swapped = error;
  swapped.message = "root > email";
  swapped.path = "Invalid email";
  EXPECT_NE(omt::ometria::error_digest(swapped), omt::ometria::error_digest(error));
  auto shifted = error;
  shifted.message = "Invalid emailr";
  shifted.path = "oot > email";
  EXPECT_NE(omt::ometria::error_digest(shifted), omt::ometria::error_digest(error));
}

TEST(OmetriaErrorList, DistinctEntriesAreCountedByOccurrence) {
  const OmetriaError a{"A", "root", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  const OmetriaError b{"B", "root", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  const auto distinct = omt::delivery::distinct_errors({a, b, a, a});
  ASSERT_EQ(distinct.size(), 2u);
  EXPECT_EQ(distinct[0].error, a);
  EXPECT_EQ(distinct[0].occurrences, 3u);
  EXPECT_EQ(distinct[0].digest, omt::ometria::error_digest(a));
  EXPECT_EQ(distinct[1].error, b);
  EXPECT_EQ(distinct[1].occurrences, 1u);
}

TEST(RecordId, IsTheRecordsIdAsText) {
  using omt::ometria::record_id_of;
  EXPECT_EQ(record_id_of(R"({"@type":"contact","id":"c-1","email":"a@b.c"})"), "c-1");
  EXPECT_EQ(record_id_of(R"({"@type":"order","id":1234})"), "1234");
  EXPECT_FALSE(record_id_of(R"({"@type":"order"})"));
  EXPECT_FALSE(record_id_of(R"({"id":{"nested":1}})"));
  EXPECT_FALSE(record_id_of("not json"));
  EXPECT_FALSE(record_id_of(R"(["id"])"));
}

TEST(ErrorPollSchedule, ZeroIntervalIsOff) {
  ErrorPollSchedule schedule(0ms);
  const auto now = std::chrono::steady_clock::now();
  EXPECT_FALSE(schedule.enabled());
  schedule.add_key("k", now);
  EXPECT_EQ(schedule.keys(), 0u);
  EXPECT_TRUE(schedule.due(now + 24h).empty());
  EXPECT_FALSE(schedule.next_due());
}

TEST(ErrorPollSchedule, EachKeyIsPolledOneIntervalAfterItCameAndAfterEachPoll) {
  ErrorPollSchedule schedule(5min);
  const auto t0 = std::chrono::steady_clock::now();
  schedule.add_key("a", t0);
  schedule.add_key("b", t0 + 1min);
  schedule.add_key("a", t0 + 2min);  // known: its time does not move
  EXPECT_EQ(schedule.keys(), 2u);
  EXPECT_TRUE(schedule.due(t0).empty()) << "not at start: a restart must not poll every key at once";
  EXPECT_EQ(schedule.next_due(), t0 + 5min);
  EXPECT_EQ(schedule.due(t0 + 5min), std::vector<std::string>{"a"});
  EXPECT_EQ(schedule.due(t0 + 7min), (std::vector<std::string>{"a", "b"}));  // the earliest due first
  schedule.started("a");
  EXPECT_EQ(schedule.due(t0 + 7min), std::vector<std::string>{"b"}) << "one poll per key at a time";
  EXPECT_EQ(schedule.next_due(), t0 + 6min);
  schedule.polled("a", t0 + 8min);
  schedule.started("b");
  EXPECT_EQ(schedule.next_due(), t0 + 13min);
  EXPECT_TRUE(schedule.due(t0 + 12min).empty());
  EXPECT_EQ(schedule.due(t0 + 13min), std::vector<std::string>{"a"});
}

PushedRecords pushed(std::string request_id, std::vector<std::string> ids) {
  return PushedRecords{std::move(request_id), "contact", 1000, std::move(ids)};
}

OmetriaError with_ids(std::optional<std::string> record_id, std::optional<std::string> request_id) {
  return OmetriaError{"Bad", "root", std::move(record_id), std::move(request_id), std::nullopt, std::nullopt};
}

TEST(RecentPushes, MatchesByRecordIdThenByRequestIdUnderTheSameKey) {
  RecentPushes recent;
  recent.add("k", pushed("r-1", {"c-1", "c-2"}));
  recent.add("k", pushed("r-2", {"c-3"}));
  recent.add("other", pushed("r-3", {"c-9"}));

  const auto by_record = recent.match("k", with_ids("c-2", std::nullopt));
  ASSERT_TRUE(by_record);
  EXPECT_EQ(by_record->record_ids, std::vector<std::string>{"c-2"});
  EXPECT_EQ(by_record->request_id, "r-1");
  EXPECT_EQ(by_record->type, "contact");
  EXPECT_EQ(by_record->pushed_at_unix_ms, 1000);

  const auto by_request = recent.match("k", with_ids(std::nullopt, "r-1"));
  ASSERT_TRUE(by_request);
  EXPECT_EQ(by_request->record_ids, (std::vector<std::string>{"c-1", "c-2"})) << "every record of the push it names";

  EXPECT_FALSE(recent.match("k", with_ids(std::nullopt, std::nullopt))) << "the documented shape names nothing";
  EXPECT_FALSE(recent.match("k", with_ids("c-9", std::nullopt))) << "another key's record";
  EXPECT_FALSE(recent.match("k", with_ids("c-404", "r-404")));
  const auto fallback = recent.match("k", with_ids("c-404", "r-2"));
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->record_ids, std::vector<std::string>{"c-3"});
}

TEST(RecentPushes, KeepsTheLatestPushOfARecordAndForgetsTheOldestBeyondItsBound) {
  RecentPushes recent(3);
  recent.add("k", pushed("r-1", {"a", "b"}));
  recent.add("k", pushed("r-2", {"a"}));  // "a" pushed again: its latest push is r-2
  EXPECT_EQ(recent.match("k", with_ids("a", std::nullopt))->request_id, "r-2");
  recent.add("k", pushed("r-3", {"c"}));  // 4 record ids: r-1 goes
  EXPECT_EQ(recent.records(), 2u);
  EXPECT_EQ(recent.pushes(), 2u);
  EXPECT_FALSE(recent.match("k", with_ids("b", std::nullopt)));
  EXPECT_FALSE(recent.match("k", with_ids(std::nullopt, "r-1")));
  EXPECT_EQ(recent.match("k", with_ids("a", std::nullopt))->request_id, "r-2") << "r-1's going did not take r-2's entry";
  recent.add("k", pushed("r-4", {"d", "e", "f", "g"}));  // larger than the bound: kept alone
  EXPECT_EQ(recent.pushes(), 1u);
  EXPECT_EQ(recent.match("k", with_ids("g", std::nullopt))->request_id, "r-4");
  RecentPushes none(0);
  none.add("k", pushed("r-1", {"a"}));
  EXPECT_FALSE(none.match("k", with_ids("a", std::nullopt)));
}

}  // namespace
