// Delivery's named events: each writes the line users read (text unchanged), its fields in the JSON format,
// keys only as fingerprints, user text redacted, and bumps its counters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "log_capture.hpp"
#include "omt/obs/delivery_events.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = "secret-api-key-123";

std::uint64_t counter(obs::Registry& metrics, std::string_view name, obs::Labels labels) {
  return metrics.counter(name, "", std::move(labels)).value();
}

TEST(DeliveryEvents, APushDeliveredLineAndItsCounters) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  const std::string fingerprint = obs::key_fingerprint(kKey);
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    events.emit(obs::PushDelivered{kKey, "contact", 3, "202", std::string_view("r-1"), 3, 0, 12ms});
    events.emit(obs::PushDelivered{kKey, "order", 2, "200", std::nullopt, std::nullopt, 0, 5ms});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(lines[0].ends_with("push delivered: key " + fingerprint +
                                   " type contact records 3 status 202 request_id r-1 accepted 3 rejected 0 in 12 ms"))
        << lines[0];
    EXPECT_TRUE(lines[1].ends_with("request_id ? accepted ? rejected 0 in 5 ms")) << lines[1];
    for (const auto& line : lines) EXPECT_EQ(line.find(kKey), std::string::npos);
  }
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "delivered"}}), 5u);
  EXPECT_EQ(counter(metrics, "omt_delivery_pushes_total", {{"outcome", "delivered"}, {"status", "202"}}), 1u);
  EXPECT_EQ(counter(metrics, "omt_delivery_pushes_total", {{"outcome", "delivered"}, {"status", "200"}}), 1u);
}

TEST(DeliveryEvents, RecordsOmetriaRejectedInA2xxAreCountedApartFromTheDelivered) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  events.emit(obs::PushDelivered{kKey, "contact", 5, "202", std::string_view("r-1"), 3, 2, 12ms});
  events.emit(obs::RecordsRejectedByOmetria{kKey, "contact", 2, 5});
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "delivered"}}), 3u);
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "rejected_by_ometria"}}), 2u);
  // A receipt counting more rejected records than were pushed never makes the delivered count wrap.
  events.emit(obs::PushDelivered{kKey, "contact", 1, "202", std::nullopt, std::nullopt, 7, 1ms});
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "delivered"}}), 3u);
}

TEST(DeliveryEvents, AQueuedKeyWithoutASourceIsWarnedAboutWithTheWayOut) {
  const std::string fingerprint = obs::key_fingerprint(kKey);
  LogCapture capture({"info", obs::LogFormat::json, false});
  obs::emit(obs::QueuedKeyWithoutSource{kKey, 12, true});
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  events.emit(obs::KeyHoldDropped{kKey});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  const json warning = json::parse(lines[0]);
  EXPECT_EQ(warning["event"], "queued_key_without_source");
  EXPECT_EQ(warning["level"], "warning");
  EXPECT_EQ(warning["key"], fingerprint);
  EXPECT_EQ(warning["records"], 12);
  EXPECT_EQ(warning["held"], true);
  EXPECT_EQ(warning["msg"],
            "delivery: the queue holds 12 records under key " + fingerprint + ", which no configured source has (an "
            "old key, held: Ometria refused it); records keep the key they were accepted under, so a corrected key "
            "does not move them. Move them to a source's current key with `ometria-transformer queue rekey --from " +
                fingerprint + " --source NAME`, or give them up with `ometria-transformer queue release --key " +
                fingerprint + " --to-dead-letter`");
  const json dropped = json::parse(lines[1]);
  EXPECT_EQ(dropped["event"], "key_hold_dropped");
  EXPECT_EQ(dropped["msg"], "delivery: the hold on key " + fingerprint +
                                " was dropped in the queue (queue rekey or queue release); it is held no longer");
  for (const auto& line : lines) EXPECT_EQ(line.find(kKey), std::string::npos) << line;
}

TEST(DeliveryEvents, JsonLinesCarryTheEventAndItsFields) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  LogCapture capture({"info", obs::LogFormat::json, false});
  events.emit(obs::PushRetried{kKey, "contact", 4, "timeout", "timeout", "no complete answer within 30000 ms", 1500ms, 2});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  const json line = json::parse(lines[0]);
  EXPECT_EQ(line["event"], "push_retried");
  EXPECT_EQ(line["msg"], "push failed: key " + obs::key_fingerprint(kKey) +
                             " type contact records 4 status timeout (timeout: no complete answer within 30000 ms); "
                             "retry in 1500 ms (attempt 2)");
  EXPECT_EQ(line["key"], obs::key_fingerprint(kKey));
  EXPECT_EQ(line["records"], 4);
  EXPECT_EQ(line["retry_in_ms"], 1500);
  EXPECT_EQ(line["attempt"], 2);
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "retry"}}), 4u);
  EXPECT_EQ(counter(metrics, "omt_delivery_pushes_total", {{"outcome", "retry"}, {"status", "timeout"}}), 1u);
}

TEST(DeliveryEvents, DeadLettersRejectionsAndRefusedKeys) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  const std::string fingerprint = obs::key_fingerprint(kKey);
  LogCapture capture({"info", obs::LogFormat::text, false});
  events.emit(obs::RecordsDeadLettered{kKey, "order", 2, "400", "HTTP 400 Bad Request: Ometria refused the payload"});
  events.emit(obs::RecordsRejectedByOmetria{kKey, "contact", 1, 3});
  events.emit(obs::PushKeyRefused{"401"});
  events.emit(obs::KeyHeld{kKey, "HTTP 401 Unauthorized: Ometria refused the API key", 180s});
  events.emit(obs::KeyProbing{kKey});
  events.emit(obs::KeyAcceptedAgain{kKey});
  events.emit(obs::KeyNoLongerRefused{kKey});
  events.emit(obs::BacklogPause{kKey, 30s});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 7u);  // PushKeyRefused only counts
  EXPECT_TRUE(lines[0].ends_with("push refused: key " + fingerprint + " type order records 2 status 400; moved to the "
                                 "dead-letter store: HTTP 400 Bad Request: Ometria refused the payload")) << lines[0];
  EXPECT_TRUE(lines[1].ends_with("push: Ometria counted 1 of 3 contact records of key " + fingerprint +
                                 " as rejected (see GET /v2/push/_errors)")) << lines[1];
  EXPECT_TRUE(lines[2].ends_with("delivery: Ometria refused key " + fingerprint + " (HTTP 401 Unauthorized: Ometria "
                                 "refused the API key): holding its records (kept in the queue, not dropped); probing "
                                 "again in 180000 ms. Other keys keep flowing. Check the key in the configuration."))
      << lines[2];
  EXPECT_TRUE(lines[3].ends_with("delivery: probing key " + fingerprint + " with one push")) << lines[3];
  EXPECT_TRUE(lines[4].ends_with("delivery: Ometria accepts key " + fingerprint + " again; its held records flow"));
  EXPECT_TRUE(lines[5].ends_with("delivery: Ometria no longer refuses key " + fingerprint + "; its held records flow"));
  EXPECT_TRUE(lines[6].ends_with("push: Ometria's backlog for key " + fingerprint +
                                 " is nearly full; pausing its pushes for 30000 ms")) << lines[6];
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "dead_letter"}}), 2u);
  EXPECT_EQ(counter(metrics, "omt_delivery_records_total", {{"outcome", "rejected_by_ometria"}}), 1u);
  EXPECT_EQ(counter(metrics, "omt_delivery_pushes_total", {{"outcome", "hold"}, {"status", "401"}}), 1u);
  for (const auto& line : lines) EXPECT_EQ(line.find(kKey), std::string::npos) << line;
}

TEST(DeliveryEvents, HeldKeyGaugesFollowTheHeldKeys) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  const std::vector<std::string> two{"key-a", "key-b"};
  events.emit(obs::HeldKeysChanged{two});
  EXPECT_EQ(metrics.gauge("omt_delivery_held_keys", "").value(), 2);
  EXPECT_EQ(metrics.gauge("omt_delivery_key_held", "", {{"key", obs::key_fingerprint("key-a")}}).value(), 1);
  const std::vector<std::string> one{"key-b"};
  events.emit(obs::HeldKeysChanged{one});
  EXPECT_EQ(metrics.gauge("omt_delivery_held_keys", "").value(), 1);
  EXPECT_EQ(metrics.gauge("omt_delivery_key_held", "", {{"key", obs::key_fingerprint("key-a")}}).value(), 0);
  EXPECT_EQ(metrics.gauge("omt_delivery_key_held", "", {{"key", obs::key_fingerprint("key-b")}}).value(), 1);
  events.emit(obs::QueueDepthSeen{42});
  events.emit(obs::PushesInFlight{3});
  EXPECT_EQ(metrics.gauge("omt_queue_depth", "").value(), 42);
  EXPECT_EQ(metrics.gauge("omt_delivery_in_flight", "").value(), 3);
  const std::string rendered = metrics.render_prometheus();
  EXPECT_EQ(rendered.find("key-a"), std::string::npos);
}

TEST(DeliveryEvents, QueueFailuresNameTheKeyByFingerprint) {
  obs::Registry metrics;
  obs::DeliveryEvents events(metrics);
  const std::string fingerprint = obs::key_fingerprint(kKey);
  LogCapture capture({"info", obs::LogFormat::text, false});
  events.emit(obs::ReadyPartitionsUnreadable{"database is locked"});
  events.emit(obs::LeaseFailed{kKey, "contact", "database is locked"});
  events.emit(obs::QueueUpdateFailed{"ack", kKey, "order", "disk I/O error"});
  events.emit(obs::HeldRecordsNotReleased{"disk I/O error"});
  events.emit(obs::ProbeNotStarted{kKey, "disk I/O error"});
  events.emit(obs::HeldKeysUnreadable{"no such table"});
  events.emit(obs::KeyHeldSincePreviousRun{kKey, "HTTP 403", 5s});
  events.emit(obs::DeliveryCutOff{});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_TRUE(lines[0].ends_with("delivery: cannot list ready partitions: database is locked"));
  EXPECT_TRUE(lines[1].ends_with("delivery: cannot lease records of " + fingerprint + " contact: database is locked"));
  EXPECT_TRUE(lines[2].ends_with("delivery: queue ack failed for " + fingerprint + " order: disk I/O error"));
  EXPECT_TRUE(lines[3].ends_with(
      "delivery: cannot give leased records back to the queue (due again when their lease ends): disk I/O error"));
  EXPECT_TRUE(lines[4].ends_with("delivery: cannot release key " + fingerprint + " for a probe: disk I/O error"));
  EXPECT_TRUE(lines[5].ends_with("delivery: cannot read the held keys: no such table"));
  EXPECT_TRUE(lines[6].ends_with("delivery: key " + fingerprint + " is held (HTTP 403) since a previous run; probing it in 5000 ms"));
  EXPECT_TRUE(lines[7].ends_with("delivery: stopped with pushes in flight; their records stay queued and go again"));
}

TEST(DeliveryEvents, TheSendersAndTheProxysLinesRedactTheirText) {
  const std::string fingerprint = obs::key_fingerprint(kKey);
  LogCapture capture({"debug", obs::LogFormat::text, false});
  obs::emit(obs::SenderAnswered{"api.example:443", kKey, 202});
  obs::emit(obs::SenderFailed{"api.example:443", kKey, "reset", "closed by ann@example.com"});
  obs::emit(obs::ProxyPushAnswered{kKey, 202, std::nullopt});
  obs::emit(obs::ProxyPushAnswered{kKey, 500, std::string_view("connect: refused for ann@example.com")});
  obs::emit(obs::DeliveryStarted{"/tmp/q.db", 7, "https://api.ometria.com/v2/push"});
  obs::emit(obs::DeliveryThreadStuck{});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_TRUE(lines[0].ends_with("push to api.example:443 with " + fingerprint + ": HTTP 202")) << lines[0];
  EXPECT_TRUE(lines[1].ends_with("push to api.example:443 with " + fingerprint + " failed: reset (closed by <email>)"))
      << lines[1];
  EXPECT_TRUE(lines[2].ends_with("proxy: push for " + fingerprint + " answered 202")) << lines[2];
  EXPECT_TRUE(lines[3].ends_with("proxy: push for " + fingerprint + " answered 500 (no answer: connect: refused for <email>)"))
      << lines[3];
  EXPECT_TRUE(lines[4].ends_with("delivery: queue /tmp/q.db (7 records waiting), pushing to https://api.ometria.com/v2/push"));
  EXPECT_TRUE(lines[5].ends_with("delivery: the delivery thread did not finish; stopping it"));
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(kKey), std::string::npos) << line;
    EXPECT_EQ(line.find("ann@example.com"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace omt::test
