// obs/ingest_events: the ingest routes' lines (text as before, name and fields in JSON), the decoded body
// redacted at trace, and omt_ingest_events_total / omt_ingest_slowed_answers_total.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "log_capture.hpp"
#include "omt/obs/ingest_events.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::test {
namespace {

using nlohmann::json;

bool has_line(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(IngestEvents, OutcomesAreCountedByName) {
  obs::Registry registry;
  const obs::IngestEvents events(&registry);
  events.emit(obs::IngestEventsRejected{3});
  events.emit(obs::IngestEventsRejected{0});
  events.emit(obs::IngestEventsSkipped{4});
  events.emit(obs::IngestEventsSkipped{0});
  events.emit(obs::IngestRecordsStored{5});
  events.emit(obs::IngestRecordsStored{2});
  events.emit(obs::IngestAnswerHeld{});
  const std::string m = registry.render_prometheus();
  EXPECT_NE(m.find("# HELP omt_ingest_events_total Events received by ingest, by outcome\n"), std::string::npos);
  EXPECT_TRUE(has_line(m, "omt_ingest_events_total{outcome=\"accepted\"} 7")) << m;
  EXPECT_TRUE(has_line(m, "omt_ingest_events_total{outcome=\"rejected\"} 3")) << m;
  EXPECT_TRUE(has_line(m, "omt_ingest_events_total{outcome=\"skipped\"} 4")) << m;
  EXPECT_TRUE(has_line(m, "omt_ingest_slowed_answers_total 1")) << m;
}

TEST(IngestEvents, RejectedEventsKeptAreToldAtDebugAndThoseDroppedForTheBoundWarnedAndCounted) {
  obs::Registry registry;
  const obs::IngestEvents events(&registry);
  {
    LogCapture capture({"debug", obs::LogFormat::text, false});
    events.emit(obs::IngestRejectedEventsKept{2});
    events.emit(obs::IngestRejectedEventsKept{0});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].ends_with(" debug ingest: 2 rejected events kept for replay (dead-letter list --events)"))
        << lines[0];
  }
  {
    LogCapture capture({"info", obs::LogFormat::json, false});
    events.emit(obs::IngestRejectedEventsDropped{3});
    events.emit(obs::IngestRejectedEventsDropped{0});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    const json line = json::parse(lines[0]);
    EXPECT_EQ(line["event"], "ingest_rejected_events_dropped");
    EXPECT_EQ(line["level"], "warning");
    EXPECT_EQ(line["events"], 3);
    EXPECT_NE(line["msg"].get<std::string>().find("dropped the 3 oldest"), std::string::npos) << lines[0];
  }
  const std::string m = registry.render_prometheus();
  EXPECT_TRUE(has_line(m, "omt_ingest_rejected_events_dropped_total 3")) << m;
}

TEST(IngestEvents, ASourcesOwnSkipsAreCountedUnderTheirOwnOutcome) {
  obs::Registry registry;
  constexpr std::string_view outcomes[] = {"no_consent", "not_allowed"};
  const obs::IngestEvents events(&registry, outcomes);
  events.emit(obs::IngestEventsSkipped{2, "no_consent"});
  events.emit(obs::IngestEventsSkipped{1, "not_allowed"});
  events.emit(obs::IngestEventsSkipped{3});
  events.emit(obs::IngestEventsSkipped{4, "unheard_of"});  // not registered: still counted, as skipped
  const std::string m = registry.render_prometheus();
  EXPECT_TRUE(has_line(m, "omt_ingest_events_total{outcome=\"no_consent\"} 2")) << m;
  EXPECT_TRUE(has_line(m, "omt_ingest_events_total{outcome=\"not_allowed\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_ingest_events_total{outcome=\"skipped\"} 7")) << m;
}

TEST(IngestEvents, WithoutARegistryOnlyTheLinesAreWritten) {
  const obs::IngestEvents events(nullptr);
  LogCapture capture({"info", obs::LogFormat::text, false});
  events.emit(obs::IngestRecordsStored{5});
  events.emit(obs::IngestAnswerHeld{});
  events.emit(obs::IngestQueueRefused{4, "disk full"});
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].ends_with(" warning ingest: the queue refused 4 records: disk full")) << lines[0];
}

// A database outage refuses every request: one line per kRefusedLineEvery, the next saying how many were not written.
TEST(IngestEvents, RefusalsAreWrittenOnceEveryTenSecondsWithACountOfTheOthers) {
  const obs::IngestEvents events(nullptr);
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  using std::chrono::milliseconds;
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    events.emit(obs::IngestQueueRefused{4, "queue: postgres: no connection", t0});
    for (int i = 1; i <= 5; ++i) events.emit(obs::IngestQueueRefused{2, "queue: postgres: no connection", t0 + milliseconds(i * 1000)});
    events.emit(obs::IngestQueueRefused{1, "queue: postgres: no connection", t0 + milliseconds(9999)});
    events.emit(obs::IngestQueueRefused{3, "queue: postgres: no connection", t0 + milliseconds(10000)});
    events.emit(obs::IngestQueueRefused{3, "queue: postgres: no connection", t0 + milliseconds(10001)});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(lines[0].ends_with(" warning ingest: the queue refused 4 records: queue: postgres: no connection")) << lines[0];
    EXPECT_TRUE(lines[1].ends_with(" warning ingest: the queue refused 3 records: queue: postgres: no connection (6 more "
                                   "requests refused since the last such line, 11 records)"))
        << lines[1];
  }
  {
    LogCapture capture({"info", obs::LogFormat::json, false});
    events.emit(obs::IngestQueueRefused{5, "disk full", t0 + milliseconds(20000)});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    const json told = json::parse(lines[0]);
    EXPECT_EQ(told["event"], "ingest_queue_refused");
    EXPECT_EQ(told["records"], 5);
    EXPECT_EQ(told["more_refused_requests"], 1);
    EXPECT_EQ(told["more_refused_records"], 3);
  }
}

// The refusals after the last line are told once the queue stores again, not left untold: at the next commit (at
// most one such line every kRefusedLineEvery, however often the queue recovers), or when the events object goes.
TEST(IngestEvents, TheRefusalsAfterTheLastLineAreToldWhenTheQueueStoresAgainOrAtTheEnd) {
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  using std::chrono::milliseconds;
  const std::string error = "queue: postgres: no connection";
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    const obs::IngestEvents events(nullptr);
    events.emit(obs::IngestQueueStored{t0});  // nothing refused: nothing to tell
    events.emit(obs::IngestQueueRefused{4, error, t0});
    events.emit(obs::IngestQueueRefused{2, error, t0 + milliseconds(1000)});
    events.emit(obs::IngestQueueRefused{3, "queue: postgres: statement timeout", t0 + milliseconds(2000)});
    events.emit(obs::IngestQueueStored{t0 + milliseconds(3000)});  // the outage is over
    events.emit(obs::IngestQueueStored{t0 + milliseconds(3001)});  // told once
    // It fails again at once, and recovers again within kRefusedLineEvery: that line waits for a commit after it.
    events.emit(obs::IngestQueueRefused{1, error, t0 + milliseconds(4000)});
    events.emit(obs::IngestQueueStored{t0 + milliseconds(5000)});
    events.emit(obs::IngestQueueStored{t0 + milliseconds(13000)});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_TRUE(lines[0].ends_with(" warning ingest: the queue refused 4 records: " + error)) << lines[0];
    EXPECT_TRUE(lines[1].ends_with(" warning ingest: 2 more requests refused since the last such line, 5 records (the "
                                   "last: queue: postgres: statement timeout); the queue stores again"))
        << lines[1];
    EXPECT_TRUE(lines[2].ends_with(" warning ingest: 1 more request refused since the last such line, 1 records (the "
                                   "last: " + error + "); the queue stores again"))
        << lines[2];
  }
  {
    LogCapture capture({"info", obs::LogFormat::json, false});
    {
      const obs::IngestEvents events(nullptr);
      const obs::IngestEvents copy = events;  // the routes' state holds one; told when the last one goes
      events.emit(obs::IngestQueueRefused{4, error, t0});
      copy.emit(obs::IngestQueueRefused{6, error, t0 + milliseconds(500)});
      EXPECT_EQ(capture.lines().size(), 1u);
    }
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    const json told = json::parse(lines[1]);
    const json expected = {{"event", "ingest_queue_refused_since_last_line"},
                           {"more_refused_requests", 1},
                           {"more_refused_records", 6},
                           {"error", error},
                           {"until", "shutdown"},
                           {"msg", "ingest: 1 more request refused since the last such line, 6 records (the last: " +
                                       error + "); told at shutdown"}};
    for (const auto& [field, value] : expected.items()) EXPECT_EQ(told[field], value) << field;
  }
}

TEST(IngestEvents, ADecodedBodyIsToldAtDebugAndShownRedactedAtTrace) {
  const obs::IngestEvents events(nullptr);
  const std::string decoded = R"({"batch":[{"email":"ann@example.com"}]})";
  {
    LogCapture capture({"debug", obs::LogFormat::text, false});
    events.emit(obs::IngestBodyDecoded{"gzip", 30, decoded});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].ends_with(" debug ingest: gzip body of 30 bytes decoded to 39 bytes")) << lines[0];
  }
  {
    LogCapture capture({"trace", obs::LogFormat::json, false});
    events.emit(obs::IngestBodyDecoded{"deflate", 30, decoded});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    const json told = json::parse(lines[0]);
    EXPECT_EQ(told["event"], "ingest_body_decoded");
    EXPECT_EQ(told["coding"], "deflate");
    EXPECT_EQ(told["encoded_bytes"], 30);
    EXPECT_EQ(told["decoded_bytes"], 39);
    const json shown = json::parse(lines[1]);
    EXPECT_EQ(shown["event"], "ingest_decoded_body");
    EXPECT_EQ(shown["msg"], R"(ingest: decoded body: {"batch":[{"email":"<email>"}]})");
    EXPECT_EQ(lines[1].find("ann@example.com"), std::string::npos);
  }
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    events.emit(obs::IngestBodyDecoded{"gzip", 30, decoded});
    EXPECT_TRUE(capture.lines().empty());
  }
}

TEST(IngestEvents, ARefusedOriginIsCountedAndToldAtDebug) {
  obs::Registry registry;
  const obs::IngestEvents events(&registry);
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    events.emit(obs::IngestCorsRefused{"https://evil.example", true});
    EXPECT_TRUE(capture.lines().empty());
  }
  {
    LogCapture capture({"debug", obs::LogFormat::json, false});
    events.emit(obs::IngestCorsRefused{"https://evil.example", false});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    const json told = json::parse(lines[0]);
    EXPECT_EQ(told["event"], "ingest_cors_refused");
    EXPECT_EQ(told["origin"], "https://evil.example");
    EXPECT_EQ(told["preflight"], false);
    EXPECT_EQ(told["msg"], "ingest: origin https://evil.example is not in the source's allowed_origins: no CORS headers sent");
  }
  EXPECT_TRUE(has_line(registry.render_prometheus(), "omt_ingest_cors_refused_total 2")) << registry.render_prometheus();
}

}  // namespace
}  // namespace omt::test
