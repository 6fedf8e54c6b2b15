// The one member lookup of a parsed JSON object: the last duplicate wins, as JSON.parse.
#include <gtest/gtest.h>

#include <string_view>

#include <simdjson.h>

#include "json/member.hpp"

namespace {

simdjson::dom::element parse(simdjson::dom::parser& parser, std::string_view text) {
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(text.data(), text.size()).get(root), simdjson::SUCCESS) << text;
  return root;
}

std::string_view string_of(const std::optional<simdjson::dom::element>& e) {
  if (!e || !e->is_string()) return "<none>";
  return e->get_string().value_unsafe();
}

TEST(JsonMember, FindsAKeyOfAnObject) {
  simdjson::dom::parser parser;
  const auto root = parse(parser, R"({"a":"1","b":"2"})");
  EXPECT_EQ(string_of(omt::json::member(root, "a")), "1");
  EXPECT_EQ(string_of(omt::json::member(root, "b")), "2");
  EXPECT_FALSE(omt::json::member(root, "c"));
  EXPECT_FALSE(omt::json::member(root, "A"));  // byte for byte, case matters
  EXPECT_FALSE(omt::json::member(root, ""));
}

TEST(JsonMember, TheLastOfDuplicatedKeysWinsAsJsonParse) {
  simdjson::dom::parser parser;
  const auto root = parse(parser, R"({"batch":"first","x":0,"batch":"second","batch":"last"})");
  EXPECT_EQ(string_of(omt::json::member(root, "batch")), "last");
  // simdjson's own lookup takes the first: the reason this function exists.
  EXPECT_EQ(std::string_view(root["batch"].get_string().value()), "first");
}

TEST(JsonMember, KeysAreComparedUnescaped) {
  simdjson::dom::parser parser;
  const auto root = parse(parser, R"({"\u0062atch":"escaped","empty":"e","":"blank"})");
  EXPECT_EQ(string_of(omt::json::member(root, "batch")), "escaped");
  EXPECT_EQ(string_of(omt::json::member(root, "")), "blank");
}

TEST(JsonMember, KeysOfTheSameLengthAndFirstByteAreToldApart) {
  simdjson::dom::parser parser;
  const auto root = parse(parser, R"({"abc":"1","abd":"2","ab":"3","abcd":"4","a\u0000c":"5"})");
  EXPECT_EQ(string_of(omt::json::member(root, "abc")), "1");
  EXPECT_EQ(string_of(omt::json::member(root, "abd")), "2");
  EXPECT_EQ(string_of(omt::json::member(root, "ab")), "3");
  EXPECT_EQ(string_of(omt::json::member(root, "abcd")), "4");
  EXPECT_EQ(string_of(omt::json::member(root, std::string_view("a\0c", 3))), "5");
  EXPECT_FALSE(omt::json::member(root, "abe"));
  EXPECT_FALSE(omt::json::member(root, "bbc"));
}

TEST(JsonMember, NotAnObjectHasNoMembers) {
  simdjson::dom::parser parser;
  for (const std::string_view text : {R"(["a"])", R"("a")", "1", "null", "true"}) {
    EXPECT_FALSE(omt::json::member(parse(parser, text), "a")) << text;
  }
  EXPECT_FALSE(omt::json::member(parse(parser, "{}"), "a"));
}

TEST(JsonMember, NullIsAValueNotAnAbsence) {
  simdjson::dom::parser parser;
  const auto root = parse(parser, R"({"a":null})");
  const auto a = omt::json::member(root, "a");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_null());
}

TEST(JsonMemberIndex, AnswersAsMemberDuplicatesIncluded) {
  simdjson::dom::parser parser;
  const auto root = parse(parser, R"({"d1":"first","d2":"two","d1":"last","\u0064\u0033":"three","":"blank"})");
  const omt::json::MemberIndex index(root.get_object().value());
  for (const std::string_view key : {"d1", "d2", "d3", "", "d4", "D1"})
    EXPECT_EQ(string_of(index.find(key)), string_of(omt::json::member(root, key))) << key;
  EXPECT_EQ(string_of(index.find("d1")), "last");
  EXPECT_FALSE(index.find("d4"));
}

}  // namespace
