// The serialiser must write what JSON.stringify writes, byte for byte.
#include <gtest/gtest.h>

#include "json/out_value.hpp"

namespace {
using omt::json::OutObject;
using omt::json::OutValue;

std::string number(double d) {
  std::string out;
  omt::json::write_number(out, d);
  return out;
}

std::string reserialise(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(text.data(), text.size()).get(e), simdjson::SUCCESS);
  std::string out;
  omt::json::write(out, e);
  return out;
}

TEST(JsonWriter, NumbersFollowJavaScript) {
  EXPECT_EQ(number(1000), "1000");
  EXPECT_EQ(number(10.5), "10.5");
  EXPECT_EQ(number(-0.0), "0");
  EXPECT_EQ(number(0.1), "0.1");
  EXPECT_EQ(number(1e21), "1e+21");
  EXPECT_EQ(number(1e20), "100000000000000000000");
  EXPECT_EQ(number(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(number(1e-7), "1e-7");
  EXPECT_EQ(number(0.000001), "0.000001");
  EXPECT_EQ(number(1.5e-10), "1.5e-10");
  EXPECT_EQ(number(-2.5), "-2.5");
  EXPECT_EQ(number(1.7976931348623157e308), "1.7976931348623157e+308");
}

TEST(JsonWriter, SourceNumbersAsJavaScriptReadsThem) {
  EXPECT_EQ(reserialise("[1.0,1e3,-0,12345678901234567890,9007199254740993,2.50]"),
            "[1,1000,0,12345678901234567000,9007199254740992,2.5]");
}

TEST(JsonWriter, StringsEscapedLikeJsonStringify) {
  std::string out;
  const std::string input = "a\"b\\c\n\t\x01\x7f \u00e9 \u2028";  // U+2028 is not escaped by JSON.stringify
  omt::json::write_string(out, input);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f \u00e9 \u2028\"");
  EXPECT_EQ(reserialise(R"(["\u00e9\ud83d\ude00","\/"])"), "[\"é😀\",\"/\"]");
}

TEST(JsonWriter, EveryEscapeInALongStringAndStringsWithoutAny) {
  std::string input, expected = "\"";
  for (int c = 0; c < 0x80; ++c) {  // each ASCII byte, twice, between plain runs
    const std::string one(1, static_cast<char>(c));
    std::string escaped;
    switch (c) {
      case '"': escaped = "\\\""; break;
      case '\\': escaped = "\\\\"; break;
      case '\b': escaped = "\\b"; break;
      case '\f': escaped = "\\f"; break;
      case '\n': escaped = "\\n"; break;
      case '\r': escaped = "\\r"; break;
      case '\t': escaped = "\\t"; break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        escaped = c < 0x20 ? std::string("\\u00") + hex[c >> 4] + hex[c & 0xF] : one;
      }
    }
    input += "ab" + one + one;
    expected += "ab" + escaped + escaped;
  }
  expected += '"';
  std::string out = "prefix:";
  omt::json::write_string(out, input);
  EXPECT_EQ(out, "prefix:" + expected);
  out.clear();
  omt::json::write_string(out, "");
  omt::json::write_string(out, "plain \u00e9");
  EXPECT_EQ(out, "\"\"\"plain \u00e9\"");
}

TEST(JsonWriter, LargeObjectsKeepDuplicateAndIndexRules) {
  std::string text = "{", expected = "{\"7\":true,";
  for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += R"("k3":"last","7":true})";
  for (int i = 0; i < 40; ++i) expected += "\"k" + std::to_string(i) + "\":" + (i == 3 ? std::string("\"last\"") : std::to_string(i)) + ",";
  expected.back() = '}';
  EXPECT_EQ(reserialise(text), expected);
}

TEST(JsonWriter, OutObjectIndexKeysComeFirstWithoutReorderingTheObject) {
  OutObject o;
  o.set("b", true);
  o.set("1", false);
  o.set("0", OutValue{});
  const OutValue value(std::move(o));
  std::string out;
  omt::json::write(out, value);
  EXPECT_EQ(out, R"({"0":null,"1":false,"b":true})");
  EXPECT_EQ(std::get<OutObject>(value.v).members.front().key, "b");
}

TEST(JsonWriter, ArrayIndexKeysComeFirstInAscendingOrder) {
  EXPECT_EQ(reserialise(R"({"b":1,"10":2,"a":3,"2":4,"01":5,"4294967295":6,"4294967294":7})"),
            R"({"2":4,"10":2,"4294967294":7,"b":1,"a":3,"01":5,"4294967295":6})");
}

TEST(JsonWriter, DuplicateKeysKeepFirstPositionAndLastValue) {
  EXPECT_EQ(reserialise(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
}

TEST(JsonWriter, OutObjectSetKeepsPositionAndAppendsNewKeys) {
  OutObject o;
  o.set("x", true);
  o.set("y", std::string_view("1"));
  o.set("x", false);
  o.set("z", OutValue{});
  std::string out;
  omt::json::write(out, OutValue(std::move(o)));
  EXPECT_EQ(out, R"({"x":false,"y":"1","z":null})");
}

TEST(JsonWriter, TruthinessFollowsJavaScript) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  ASSERT_EQ(parser.parse(std::string_view(R"([0,"",null,false,0.0,1,"a",{},[],true,-1])")).get(e), simdjson::SUCCESS);
  std::vector<bool> truthy, qualifies;
  for (simdjson::dom::element item : omt::json::as_array(e)) {
    truthy.push_back(omt::json::truthy(item));
    qualifies.push_back(omt::json::qualifies(item));
  }
  EXPECT_EQ(truthy, (std::vector<bool>{false, false, false, false, false, true, true, true, true, true, true}));
  EXPECT_EQ(qualifies, (std::vector<bool>{true, false, false, true, true, true, true, true, true, true, true}));
}

}  // namespace
