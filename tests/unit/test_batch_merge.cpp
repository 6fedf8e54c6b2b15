// The batch-level "context" and "integrations" merged into one event (merge_batch_level_fields).
#include <gtest/gtest.h>

#include <string>

#include "omt/protocol/batch_merge.hpp"

namespace {
using omt::protocol::merge_batch_level_fields;

std::string merged(const std::string& event, const std::string& batch_level) {
  auto out = merge_batch_level_fields(event, batch_level);
  EXPECT_TRUE(out) << (out ? "" : out.error().message);
  return out ? *out : std::string{};
}

TEST(IngestBatchLevel, AnEventWithoutTheKeyGetsTheBatchLevelObject) {
  EXPECT_EQ(merged(R"({"type":"track","userId":"u"})", R"({"batch":[],"context":{"ip":"1.2.3.4"}})"),
            R"({"type":"track","userId":"u","context":{"ip":"1.2.3.4"}})");
  EXPECT_EQ(merged(R"({"type":"track","context":null})", R"({"context":{"ip":"1.2.3.4"},"integrations":{"All":true}})"),
            R"({"type":"track","context":{"ip":"1.2.3.4"},"integrations":{"All":true}})");
}

TEST(IngestBatchLevel, EventKeysWinAndTheMergeIsShallow) {
  // The event's own context.traits wins wholesale: the batch-level traits' listingId is not added to it.
  EXPECT_EQ(merged(R"({"context":{"traits":{"email":"own@example.com"},"ip":"9.9.9.9"},"type":"identify"})",
                   R"({"context":{"traits":{"email":"batch@example.com","listingId":"l-1"},"ip":"1.2.3.4","locale":"en-GB"}})"),
            R"({"context":{"traits":{"email":"own@example.com"},"ip":"9.9.9.9","locale":"en-GB"},"type":"identify"})");
  // An event context without traits gets the batch-level traits.
  EXPECT_EQ(merged(R"({"context":{"ip":"9.9.9.9"}})", R"({"context":{"traits":{"email":"b@example.com"}}})"),
            R"({"context":{"ip":"9.9.9.9","traits":{"email":"b@example.com"}}})");
  EXPECT_EQ(merged(R"({"integrations":{"Ometria":true}})", R"({"integrations":{"All":false,"Ometria":false}})"),
            R"({"integrations":{"Ometria":true,"All":false}})");
  // An event value that is not an object is the event's own: kept.
  EXPECT_EQ(merged(R"({"context":"web"})", R"({"context":{"ip":"1.2.3.4"}})"), R"({"context":"web"})");
}

TEST(IngestBatchLevel, NothingToMergeLeavesTheEventAsItIs) {
  EXPECT_EQ(merged(R"({"a":1,"context":{"ip":"x"}})", R"({"batch":[]})"), R"({"a":1,"context":{"ip":"x"}})");
  EXPECT_EQ(merged(R"({"a":1})", R"({"context":null,"integrations":{}})"), R"({"a":1})");
  EXPECT_EQ(merged(R"({"context":{"ip":"x"}})", R"({"context":{"ip":"y"}})"), R"({"context":{"ip":"x"}})");
}

TEST(IngestBatchLevel, NumbersAreWrittenSoTheyReadBackTheSame) {
  EXPECT_EQ(merged(R"({"big":18446744073709551615,"neg":-9223372036854775808,"d":0.1,"e":1e300,"s":"\u00e9\n"})",
                   R"({"context":{"n":9007199254740993}})"),
            "{\"big\":18446744073709551615,\"neg\":-9223372036854775808,\"d\":0.1,\"e\":1e+300,\"s\":\"\u00e9\\n\","
            "\"context\":{\"n\":9007199254740993}}");
}

TEST(IngestBatchLevel, ADuplicatedKeyIsReadAsJsonParseReadsIt) {
  // The event's last "context" is its context: merged and written once, at the first one's place.
  EXPECT_EQ(merged(R"({"context":{"ip":"old"},"a":1,"context":{"locale":"en"}})", R"({"context":{"ip":"1.2.3.4"}})"),
            R"({"context":{"locale":"en","ip":"1.2.3.4"},"a":1})");
  EXPECT_EQ(merged(R"({"context":{"ip":"x"},"context":null})", R"({"context":{"ip":"1.2.3.4"}})"),
            R"({"context":{"ip":"1.2.3.4"}})");
  // The batch's last "context" is the batch-level context.
  EXPECT_EQ(merged(R"({"a":1})", R"({"context":{"ip":"first"},"context":{"ip":"last"}})"),
            R"({"a":1,"context":{"ip":"last"}})");
  // Within the event's own object, a key given twice counts as present.
  EXPECT_EQ(merged(R"({"context":{"ip":"a","ip":"b"}})", R"({"context":{"ip":"batch","locale":"en"}})"),
            R"({"context":{"ip":"a","ip":"b","locale":"en"}})");
}

}  // namespace
