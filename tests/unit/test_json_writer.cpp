// The serialiser must write what JSON.stringify writes, byte for byte.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <random>
#include <string>
#include <vector>

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

// Number::toString from the shortest scientific digits, as the spec lays them out (the writer takes a shorter way
// between 1e-6 and 2^53, which must give the same text).
std::string js_number_reference(double d) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  const auto e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  const int k = static_cast<int>(digits.size()), n = std::stoi(sci.substr(e + 1)) + 1;
  std::string out = d < 0 ? "-" : "";
  if (k <= n && n <= 21) return out + digits + std::string(static_cast<std::size_t>(n - k), '0');
  if (0 < n && n <= 21) return out + digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
  if (-6 < n && n <= 0) return out + "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
  out += digits.substr(0, 1);
  if (k > 1) out += "." + digits.substr(1);
  return out + "e" + (n - 1 >= 0 ? "+" : "-") + std::to_string(std::abs(n - 1));
}

TEST(JsonWriter, NumbersBetweenAMillionthAndTwoToThe53AsTheSpecLaysThemOut) {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> exponent(-8, 17);
  for (int i = 0; i < 20000; ++i) {
    double d = std::pow(10.0, exponent(random));
    if (i % 4 == 1) d = std::round(d * 100) / 100;  // prices
    if (i % 4 == 2) d = std::round(d);
    if (i % 8 == 3) d = -d;
    if (d == 0) continue;
    ASSERT_EQ(number(d), js_number_reference(d)) << std::hexfloat << d;
  }
  for (double d : {1e-6, 0.1 + 0.2, 9007199254740991.0, 9007199254740992.0, 4503599627370495.5, 123456.7, 0.000123})
    EXPECT_EQ(number(d), js_number_reference(d)) << d;
  EXPECT_EQ(number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(number(4503599627370495.5), "4503599627370495.5");
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

// The escaper works on 16-byte blocks: every byte value, at every position of a block and in runs that end
// anywhere, must come out as the byte-at-a-time rule writes it.
std::string escaped_one_at_a_time(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') out += {'\\', ch};
    else if (c == '\b') out += "\\b";
    else if (c == '\f') out += "\\f";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) out += std::string("\\u00") + hex[c >> 4] + hex[c & 0xF];
    else out += ch;
  }
  return out + '"';
}

TEST(JsonWriter, EveryByteAtEveryPositionOfABlock) {
  for (int c = 0; c < 256; ++c)
    for (std::size_t at = 0; at < 40; ++at) {
      std::string input(at + 1 + (at % 19), 'x');
      input[at] = static_cast<char>(c);
      std::string out;
      omt::json::write_string(out, input);
      ASSERT_EQ(out, escaped_one_at_a_time(input)) << "byte " << c << " at " << at;
    }
  std::string dense;  // an escape in every byte, past the 255 blocks the counter sums at a time
  for (int i = 0; i < 16 * 300; ++i) dense += "\"\x01\\"[i % 3];
  std::string out;
  omt::json::write_string(out, dense);
  EXPECT_EQ(out, escaped_one_at_a_time(dense));
}

// A value written as string content is its JSON text escaped as write_string would escape it, minus the quotes,
// and its length is that of the text itself.
std::string as_string_content(const OutValue& value, std::size_t* text_size = nullptr) {
  std::string out = "prefix";
  const std::size_t size = omt::json::write_as_string_content(out, value);
  if (text_size) *text_size = size;
  return out.substr(6);
}
std::string plain_text(const OutValue& value) {
  std::string out;
  omt::json::write(out, value);
  return out;
}
std::string unquoted(const std::string& literal) { return literal.substr(1, literal.size() - 2); }

TEST(JsonWriter, AValueAsStringContentIsItsTextEscapedOnce) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  const std::string text = R"({"id":"a\"b\\c\n\u0001","n":-1.5,"big":12345678901234567890,"t":true,"z":null,)"
                           R"("list":[1,"x",{}],"2":"index keys first","k\"ey":"\u00e9"})";
  ASSERT_EQ(parser.parse(text).get(e), simdjson::SUCCESS);
  OutObject o;
  o.set("from the source", OutValue(e));
  o.set("mapped", std::string_view("quote \" backslash \\ tab \t"));
  o.set("flag", false);
  o.set("none", OutValue{});
  const OutValue value(std::move(o));
  std::size_t size = 0;
  EXPECT_EQ(as_string_content(value, &size), unquoted(escaped_one_at_a_time(plain_text(value))));
  EXPECT_EQ(size, plain_text(value).size());
}

TEST(JsonWriter, EveryByteOfAStringAsStringContent) {
  for (int c = 0; c < 256; ++c)
    for (std::size_t at = 0; at < 20; ++at) {
      std::string input(at + 1 + (at % 7), 'x');
      input[at] = static_cast<char>(c);
      const OutValue value{std::string_view(input)};
      std::size_t size = 0;
      ASSERT_EQ(as_string_content(value, &size), unquoted(escaped_one_at_a_time(plain_text(value))))
          << "byte " << c << " at " << at;
      ASSERT_EQ(size, plain_text(value).size());
    }
}

// Every length up to past two blocks (the short ones are checked as overlapping words, the long ones in blocks of
// 16), every position, every byte, written once and as string content.
TEST(JsonWriter, EveryByteAtEveryPositionOfEveryShortLength) {
  for (std::size_t length = 1; length <= 40; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (int c = 0; c < 256; ++c) {
        std::string input(length, 'x');
        input[at] = static_cast<char>(c);
        std::string out;
        omt::json::write_string(out, input);
        ASSERT_EQ(out, escaped_one_at_a_time(input)) << "byte " << c << " at " << at << " of " << length;
        const OutValue value{std::string_view(input)};
        std::size_t size = 0;
        ASSERT_EQ(as_string_content(value, &size), unquoted(escaped_one_at_a_time(out)))
            << "byte " << c << " at " << at << " of " << length;
        ASSERT_EQ(size, out.size());
      }
}

// A string longer than the piece the writer escapes at a time, with escapes on both sides of each piece's end.
TEST(JsonWriter, ALongStringWithEscapesWhereItsPiecesMeet) {
  std::string input(5000, 'y');
  for (std::size_t at : {0, 1023, 1024, 1025, 2047, 2048, 3071, 4095, 4096, 4999}) input[at] = at % 2 ? '"' : '\x01';
  for (std::size_t at = 4100; at < 4200; ++at) input[at] = '\\';
  std::string out = "prefix";
  omt::json::write_string(out, input);
  EXPECT_EQ(out, "prefix" + escaped_one_at_a_time(input));
  const OutValue value{std::string_view(input)};
  std::size_t size = 0;
  EXPECT_EQ(as_string_content(value, &size), unquoted(escaped_one_at_a_time(out.substr(6))));
  EXPECT_EQ(size, out.size() - 6);
}

TEST(JsonWriter, AnArrayOfStringContentAsOneStringLiteral) {
  simdjson::dom::parser parser;
  std::vector<std::string> texts = {R"({"id":"a\"b","n":1,"long":"0123456789abcdefghij"})", "[\"\\n\"]", "{}"};
  std::vector<std::string> contents;
  for (const auto& t : texts) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(t).get(e), simdjson::SUCCESS);
    contents.push_back(as_string_content(OutValue(e)));
  }
  const std::vector<std::string_view> items(contents.begin(), contents.end());
  std::string out = "x";
  omt::json::write_string_of_array(out, items);
  EXPECT_EQ(out, "x" + escaped_one_at_a_time("[" + texts[0] + "," + texts[1] + "," + texts[2] + "]"));
  out.clear();
  omt::json::write_string_of_array(out, std::span<const std::string_view>(items.data(), 1));
  EXPECT_EQ(out, escaped_one_at_a_time("[" + texts[0] + "]"));
  out.clear();
  omt::json::write_string_of_array(out, {});
  EXPECT_EQ(out, "\"[]\"");
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

TEST(JsonWriter, SameJsonComparesMembersInOrderTypesAndValues) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  // Pairs: [a, b, same?]
  ASSERT_EQ(parser.parse(std::string_view(R"([
    [{"a":1,"b":{"c":[true,null,"x"]}}, {"a":1,"b":{"c":[true,null,"x"]}}, true],
    [{"a":1,"b":2}, {"b":2,"a":1}, false],
    [{"a":1}, {"a":1,"a":1}, false],
    [{"a":1}, {"a":1.0}, false],
    [{"a":"x"}, {"a":"x "}, false],
    [[1,2], [1,2,3], false],
    [0.5, 0.5, true],
    [-0.0, 0.0, false],
    [18446744073709551615, 18446744073709551615, true],
    [false, false, true],
    [null, false, false],
    [{}, {}, true]
  ])")).get(e), simdjson::SUCCESS);
  for (simdjson::dom::element pair : omt::json::as_array(e)) {
    const auto items = omt::json::as_array(pair);
    const bool expected = bool(items.at(2).get_bool().value_unsafe());
    EXPECT_EQ(omt::json::same_json(items.at(0).value_unsafe(), items.at(1).value_unsafe()), expected)
        << simdjson::to_string(pair);
    EXPECT_EQ(omt::json::same_json(items.at(1).value_unsafe(), items.at(0).value_unsafe()), expected);
  }
}

}  // namespace
