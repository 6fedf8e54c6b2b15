// import::detect_format: told only where it is unambiguous; --format otherwise.
#include <gtest/gtest.h>

#include "omt/import/input_format.hpp"

namespace {

using omt::import::detect_format;
using omt::import::InputFormat;

TEST(ImportFormat, DetectsFromTheNameOrTheFirstLine) {
  EXPECT_EQ(*detect_format("orders.csv", ""), InputFormat::csv);
  EXPECT_EQ(*detect_format("orders.csv.gz", ""), InputFormat::csv);
  EXPECT_EQ(*detect_format("x.jsonl", R"({"@type":"contact","id":"1"})"), InputFormat::records);
  EXPECT_EQ(*detect_format("x.jsonl", R"({"type":"identify","userId":"1"})"), InputFormat::events);
  EXPECT_EQ(*detect_format("x.json.gz", R"({"event":"Order Completed"})"), InputFormat::events);
  EXPECT_EQ(*detect_format("x", R"({"anonymousId":"a"})"), InputFormat::events);
}

TEST(ImportFormat, AmbiguousOrUnknownAsksForFormat) {
  for (const char* line : {"", "not json", "[1]", R"({"id":1})", R"({"@type":"contact","type":"identify"})"}) {
    auto detected = detect_format("data.jsonl", line);
    ASSERT_FALSE(detected) << line;
    EXPECT_NE(detected.error().message.find("pass --format events|records|csv"), std::string::npos) << detected.error().message;
    EXPECT_NE(detected.error().message.find("data.jsonl"), std::string::npos);
  }
}

TEST(ImportFormat, NamesRoundTrip) {
  for (auto f : {InputFormat::events, InputFormat::records, InputFormat::csv})
    EXPECT_EQ(omt::import::input_format_from(omt::import::to_string(f)), f);
  EXPECT_FALSE(omt::import::input_format_from("json"));
}

}  // namespace
