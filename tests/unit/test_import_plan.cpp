// The import's plan (records per type, bad rows, hazards, delivery estimate), the decision to start, and the
// choice between a new run, a resumed one and one already done: pure stages.
#include <gtest/gtest.h>

#include "omt/import/import_run.hpp"
#include "omt/import/plan.hpp"

namespace {

using namespace omt::import;
using omt::ometria::RecordType;

constexpr std::int64_t kNow = 1'714'557'600'000;  // 2024-05-01T10:00:00Z

SourcePlace at(std::uint64_t line) { return SourcePlace{"in.jsonl", line, line * 100}; }

bool has_hazard(const Plan& plan, Hazard h) {
  for (const auto& found : plan.hazards)
    if (found.hazard == h) return true;
  return false;
}

TEST(ImportPlan, CountsRecordsByPassTypeAndEstimatesDelivery) {
  PlanBuilder b(kNow);
  for (int i = 0; i < 250; ++i) b.add_record(RecordType::product, R"({"@type":"product"})", at(i + 1));
  b.add_record(RecordType::order, R"({"@type":"order"})", at(300));
  b.add_skipped();
  const Plan plan = b.finish(/*requests_per_second=*/2, 100);
  EXPECT_EQ(plan.records_of(RecordType::product), 250u);
  EXPECT_EQ(plan.records_of(RecordType::order), 1u);
  EXPECT_EQ(plan.total_records(), 251u);
  EXPECT_EQ(plan.items, 252u);
  EXPECT_EQ(plan.skipped, 1u);
  EXPECT_EQ(plan.pushes, 4u);  // 3 of products, 1 of orders: one type a push
  ASSERT_TRUE(plan.delivery_seconds);
  EXPECT_DOUBLE_EQ(*plan.delivery_seconds, 2.0);
  EXPECT_FALSE(b.finish(0, 100).delivery_seconds);  // unlimited rate
  EXPECT_TRUE(plan.hazards.empty());
}

TEST(ImportPlan, ListsTheFirstTwentyBadRowsAndCountsAll) {
  PlanBuilder b(kNow);
  for (int i = 0; i < 25; ++i) b.add_bad_row(BadRow{at(i + 1), "email", "is required"});
  const Plan plan = b.finish(8, 100);
  EXPECT_EQ(plan.bad_rows, 25u);
  ASSERT_EQ(plan.listed_bad_rows.size(), 20u);
  const std::string text = format_plan(plan, "in.jsonl");
  EXPECT_NE(text.find("in.jsonl:1: email: is required"), std::string::npos) << text;
  EXPECT_EQ(text.find("in.jsonl:21:"), std::string::npos) << text;
  EXPECT_NE(text.find("... and 5 more"), std::string::npos) << text;
  const Decision refused = decide(plan, {}, 0);
  EXPECT_FALSE(refused.may_start);
  ASSERT_EQ(refused.refusals.size(), 1u);
  EXPECT_NE(refused.refusals[0].find("--max-bad-records"), std::string::npos);
  EXPECT_FALSE(decide(plan, {}, 24).may_start);
  EXPECT_TRUE(decide(plan, {}, 25).may_start);
}

TEST(ImportPlan, OptedInContactsWithoutSubscriptionTimestampAreAHazard) {
  PlanBuilder b(kNow);
  b.add_record(RecordType::contact, R"({"id":"1","marketing_optin":"EXPLICITLY_OPTEDIN"})", at(1));
  b.add_record(RecordType::contact, R"({"id":"2","marketing_optin":"EXPLICITLY_OPTEDIN","timestamp_subscribed":"2020-01-01T00:00:00Z"})", at(2));
  b.add_record(RecordType::contact, R"({"id":"3","marketing_optin":"EXPLICITLY_OPTEDOUT"})", at(3));
  const Plan plan = b.finish(8, 100);
  ASSERT_EQ(plan.hazards.size(), 1u);
  EXPECT_EQ(plan.hazards[0].hazard, Hazard::optin_without_timestamp);
  EXPECT_EQ(plan.hazards[0].records, 1u);
  EXPECT_EQ(plan.hazards[0].first->line, 1u);
  EXPECT_FALSE(decide(plan, {}, 0).may_start);
  EXPECT_TRUE(decide(plan, {Hazard::optin_without_timestamp}, 0).may_start);
}

TEST(ImportPlan, EveryContactWithOneOptInIsAHazardButNotWhenTheyDiffer) {
  PlanBuilder same(kNow);
  for (int i = 0; i < 3; ++i) same.add_record(RecordType::contact, R"({"marketing_optin":"EXPLICITLY_OPTEDOUT"})", at(i + 1));
  EXPECT_TRUE(has_hazard(same.finish(8, 100), Hazard::one_optin_for_all));

  PlanBuilder differ(kNow);
  differ.add_record(RecordType::contact, R"({"marketing_optin":"EXPLICITLY_OPTEDOUT"})", at(1));
  differ.add_record(RecordType::contact, R"({"marketing_optin":"NOT_SPECIFIED"})", at(2));
  EXPECT_FALSE(has_hazard(differ.finish(8, 100), Hazard::one_optin_for_all));

  PlanBuilder some_without(kNow);
  some_without.add_record(RecordType::contact, R"({"marketing_optin":"EXPLICITLY_OPTEDOUT"})", at(1));
  some_without.add_record(RecordType::contact, R"({"id":"x"})", at(2));
  EXPECT_FALSE(has_hazard(some_without.finish(8, 100), Hazard::one_optin_for_all));
}

TEST(ImportPlan, CustomEventsOlderThanFourHoursAreAHazard) {
  PlanBuilder b(kNow);
  b.add_record(RecordType::custom_event, R"({"timestamp":"2024-05-01T09:00:00Z"})", at(1));  // 1 h ago
  EXPECT_FALSE(has_hazard(b.finish(8, 100), Hazard::old_custom_events));
  b.add_record(RecordType::custom_event, R"({"timestamp":"2024-05-01T05:59:00Z"})", at(2));  // 4 h 1 min ago
  const Plan plan = b.finish(8, 100);
  ASSERT_TRUE(has_hazard(plan, Hazard::old_custom_events));
  EXPECT_EQ(plan.hazards[0].records, 1u);
  EXPECT_EQ(plan.hazards[0].first->line, 2u);
  const std::string text = format_plan(plan, "in.jsonl");
  EXPECT_NE(text.find("old-custom-events: 1 of 2 custom events are more than four hours old"), std::string::npos) << text;
}

TEST(ImportPlan, HazardNamesRoundTrip) {
  for (auto h : all_hazards) {
    EXPECT_EQ(hazard_from(hazard_name(h)), h);
    EXPECT_FALSE(hazard_explanation(h).empty());
  }
  EXPECT_FALSE(hazard_from("everything"));
}

TEST(ImportPlan, DurationsReadEasily) {
  EXPECT_EQ(format_duration(12), "12s");
  EXPECT_EQ(format_duration(245), "4m 05s");
  EXPECT_EQ(format_duration(3600 + 23 * 60), "1h 23m");
}

omt::queue::ImportRun run_of(omt::queue::ImportRunId id, omt::queue::ImportState state, std::vector<omt::queue::ImportFile> files) {
  omt::queue::ImportRun r;
  r.id = id;
  r.state = state;
  r.files = std::move(files);
  return r;
}

TEST(ImportRunChoice, StartsResumesOrSaysItIsDone) {
  using omt::queue::ImportState;
  const std::vector<omt::queue::ImportFile> files = {{"a.jsonl", 10, "h1"}, {"b.jsonl", 20, "h2"}};
  EXPECT_EQ(choose_run({}, files, false).kind, RunChoice::Kind::start);
  auto resume = choose_run({run_of(1, ImportState::interrupted, files)}, files, false);
  EXPECT_EQ(resume.kind, RunChoice::Kind::resume);
  EXPECT_EQ(resume.run->id, 1);
  auto done = choose_run({run_of(1, ImportState::finished, files)}, files, false);
  EXPECT_EQ(done.kind, RunChoice::Kind::already_imported);
  EXPECT_NE(done.message.find("already imported"), std::string::npos);
  EXPECT_NE(done.message.find("--again"), std::string::npos);
  auto again = choose_run({run_of(1, ImportState::finished, files)}, files, true);
  EXPECT_EQ(again.kind, RunChoice::Kind::start);
  EXPECT_EQ(again.superseded, std::vector<omt::queue::ImportRunId>{1});
  // A superseded run is history: the latest run counts.
  EXPECT_EQ(choose_run({run_of(1, ImportState::superseded, files), run_of(2, ImportState::running, files)}, files, false).run->id, 2);
}

TEST(ImportRunChoice, AChangedFileIsRefusedByName) {
  using omt::queue::ImportState;
  const std::vector<omt::queue::ImportFile> then = {{"a.jsonl", 10, "h1"}, {"b.jsonl", 20, "h2"}};
  auto grown = then;
  grown[1].size = 25;
  auto refused = choose_run({run_of(3, ImportState::running, then)}, grown, false);
  EXPECT_EQ(refused.kind, RunChoice::Kind::refused);
  EXPECT_NE(refused.message.find("b.jsonl changed (20 bytes then, 25 now)"), std::string::npos) << refused.message;
  auto edited = then;
  edited[0].head_hash = "other";
  EXPECT_NE(choose_run({run_of(3, ImportState::running, then)}, edited, false).message.find("a.jsonl changed"), std::string::npos);
  auto more = then;
  more.push_back({"c.jsonl", 1, "h3"});
  EXPECT_NE(choose_run({run_of(3, ImportState::running, then)}, more, false).message.find("c.jsonl is new"), std::string::npos);
  EXPECT_EQ(choose_run({run_of(3, ImportState::running, then)}, more, true).kind, RunChoice::Kind::start);
}

}  // namespace
