// obs/ownership_events: each ownership change is one line (the key only as its fingerprint) and one count in
// omt_delivery_ownership_changes_total{change}; omt_delivery_owned_keys follows the last count; a failed round
// is counted and logged as a warning.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "log_capture.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/obs/ownership_events.hpp"

namespace omt::obs {
namespace {

using nlohmann::json;

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(OwnershipEvents, ChangesAreLoggedWithFingerprintsAndCountedAndTheGaugeFollowsTheLastCount) {
  Registry registry;
  OwnershipEvents events(registry);
  const std::string before = registry.render_prometheus();
  EXPECT_TRUE(has(before, "omt_delivery_owned_keys 0")) << before;
  EXPECT_TRUE(has(before, "omt_delivery_ownership_changes_total{change=\"taken_over\"} 0")) << before;

  test::LogCapture capture({"debug", LogFormat::json, false});
  events.emit(KeyTakenOver{"secret-key-one", true});
  events.emit(KeyTakenOver{"secret-key-two", false});
  events.emit(KeyGivenBack{"secret-key-two", 2});
  events.emit(KeyLost{"secret-key-one"});
  events.emit(OwnershipRoundFailed{"queue: postgres: ownership: lock: timed out"});
  events.emit(OwnershipExpired{3});
  events.emit(OwnedKeysCounted{2, 6, 3});

  const std::string after = registry.render_prometheus();
  EXPECT_TRUE(has(after, "omt_delivery_owned_keys 2")) << after;
  EXPECT_TRUE(has(after, "omt_delivery_ownership_changes_total{change=\"taken_over\"} 2")) << after;
  EXPECT_TRUE(has(after, "omt_delivery_ownership_changes_total{change=\"given_back\"} 1")) << after;
  EXPECT_TRUE(has(after, "omt_delivery_ownership_changes_total{change=\"lost\"} 1")) << after;
  EXPECT_TRUE(has(after, "omt_delivery_ownership_round_failures_total 1")) << after;

  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 7u);
  for (const auto& line : lines) EXPECT_EQ(line.find("secret-key"), std::string::npos) << line;
  const json taken = json::parse(lines[0]);
  EXPECT_EQ(taken["event"], "key_taken_over");
  EXPECT_EQ(taken["key"], key_fingerprint("secret-key-one"));
  EXPECT_EQ(taken["from_dead_instance"], true);
  EXPECT_EQ(taken["msg"], "delivery: took over key " + key_fingerprint("secret-key-one") +
                              " (its owner's claim expired unrenewed)");
  EXPECT_EQ(json::parse(lines[1])["msg"], "delivery: took over key " + key_fingerprint("secret-key-two"));
  const json given = json::parse(lines[2]);
  EXPECT_EQ(given["event"], "key_given_back");
  EXPECT_EQ(given["fair_share"], 2);
  EXPECT_EQ(given["msg"], "delivery: gave back key " + key_fingerprint("secret-key-two") +
                              " (over this instance's fair share of 2)");
  EXPECT_EQ(json::parse(lines[3])["event"], "key_lost");
  EXPECT_EQ(json::parse(lines[3])["level"], "warning");
  EXPECT_EQ(json::parse(lines[4])["msg"], "delivery: could not renew or claim keys: queue: postgres: ownership: lock: timed out");
  EXPECT_EQ(json::parse(lines[5])["keys"], 3);
  const json counted = json::parse(lines[6]);
  EXPECT_EQ(counted["event"], "owned_keys_counted");
  EXPECT_EQ(counted["msg"], "delivery: owns 2 of 6 keys (3 instances)");
}

}  // namespace
}  // namespace omt::obs
