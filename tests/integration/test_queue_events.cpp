// The durable queue's named events: each writes the line it always wrote (text format), and in the JSON
// format its name and fields; a key only as its fingerprint, a callback's exception text redacted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "log_capture.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/queue_events.hpp"

namespace {

using nlohmann::json;
using omt::test::LogCapture;
namespace obs = omt::obs;

std::string text_line(const auto& event) {
  LogCapture capture({"info", obs::LogFormat::text, false});
  obs::emit(event);
  const auto lines = capture.lines();
  if (lines.size() != 1) return "(" + std::to_string(lines.size()) + " lines)";
  return lines[0];
}

json json_line(const auto& event) {
  LogCapture capture({"info", obs::LogFormat::json, false});
  obs::emit(event);
  const auto lines = capture.lines();
  if (lines.size() != 1) return json{{"lines", lines.size()}};
  return json::parse(lines[0]);
}

TEST(QueueEvents, RecordsMigrated) {
  const obs::QueueRecordsMigrated event{3};
  EXPECT_TRUE(text_line(event).ends_with(" info queue: moved 3 records into chunks (the queue's new layout)"))
      << text_line(event);
  const auto line = json_line(event);
  EXPECT_EQ(line["event"], "queue_records_migrated");
  EXPECT_EQ(line["records"], 3);
}

TEST(QueueEvents, RejectedEventsReplayedSaysWhatBecameOfThem) {
  const obs::QueueRejectedEventsReplayed event{2, 3, 4, 1, 0};
  EXPECT_TRUE(text_line(event).ends_with(" info queue: rejected events replayed: 2 became records, 3 still fail, 4 "
                                         "skipped, 1 from sources no longer configured (kept), 0 no longer stored"))
      << text_line(event);
  const auto line = json_line(event);
  EXPECT_EQ(line["event"], "rejected_events_replayed");
  EXPECT_EQ(line["enqueued"], 2);
  EXPECT_EQ(line["still_rejected"], 3);
  EXPECT_EQ(line["skipped"], 4);
  EXPECT_EQ(line["unknown_source"], 1);
  EXPECT_EQ(line["gone"], 0);
}

TEST(QueueEvents, ChunkQuarantinedNamesTheKeyOnlyByItsFingerprint) {
  const obs::QueueChunkQuarantined event{"secret-api-key", "contact",
                                         "damaged chunk of 3 records: queue: a stored chunk is cut short (chunk 12345678)"};
  const std::string fingerprint = obs::key_fingerprint("secret-api-key");
  const std::string text = text_line(event);
  EXPECT_TRUE(text.ends_with(" error queue: damaged chunk of 3 records: queue: a stored chunk is cut short (chunk 12345678)"
                             " (key " + fingerprint + ", type contact); moved to the dead-letter store so the rest can flow"))
      << text;
  EXPECT_EQ(text.find("secret-api-key"), std::string::npos);
  const auto line = json_line(event);
  EXPECT_EQ(line["event"], "queue_chunk_quarantined");
  EXPECT_EQ(line["key"], fingerprint);
  EXPECT_EQ(line["type"], "contact");
  EXPECT_EQ(line["reason"], "damaged chunk of 3 records: queue: a stored chunk is cut short (chunk 12345678)");
  EXPECT_EQ(line.dump().find("secret-api-key"), std::string::npos);
}

TEST(QueueEvents, TransactionAndRollbackFailuresAreTheErrorItself) {
  const std::string error = "queue: commit: disk I/O error (SQLite code 10)";
  EXPECT_TRUE(text_line(obs::QueueTransactionFailed{error}).ends_with(" error " + error));
  EXPECT_TRUE(text_line(obs::QueueRollbackFailed{error}).ends_with(" error " + error));
  auto line = json_line(obs::QueueTransactionFailed{error});
  EXPECT_EQ(line["event"], "queue_transaction_failed");
  EXPECT_EQ(line["error"], error);
  line = json_line(obs::QueueRollbackFailed{error});
  EXPECT_EQ(line["event"], "queue_rollback_failed");
  EXPECT_EQ(line["error"], error);
}

TEST(QueueEvents, ACallbackThatThrewIsToldWithItsTextRedacted) {
  const obs::QueueCallbackThrew known{"no answer for ann@example.com"};
  EXPECT_TRUE(text_line(known).ends_with(" error queue: a completion callback threw: no answer for <email>"))
      << text_line(known);
  const auto line = json_line(known);
  EXPECT_EQ(line["event"], "queue_callback_threw");
  EXPECT_EQ(line["error"], "no answer for <email>");
  EXPECT_EQ(line.dump().find("ann@example.com"), std::string::npos);

  const obs::QueueCallbackThrew unknown{std::nullopt};
  EXPECT_TRUE(text_line(unknown).ends_with(" error queue: a completion callback threw")) << text_line(unknown);
  EXPECT_EQ(json_line(unknown)["event"], "queue_callback_threw");
}

}  // namespace
