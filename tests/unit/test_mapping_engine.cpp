// The mapping engine: loading and validating tables, and constructPayload / extractCustomFields semantics.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mapping/engine.hpp"

namespace fs = std::filesystem;
using omt::mapping::TableSet;

namespace {

const fs::path mappings_dir = fs::path(OMT_SOURCE_DIR) / "mappings";

// A copy of the project's mappings in a temp dir, with one file replaced.
class MappingDir {
 public:
  MappingDir() : dir_(fs::temp_directory_path() / ("omt-mappings-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    fs::create_directories(dir_);
    for (const auto& entry : fs::directory_iterator(mappings_dir)) fs::copy_file(entry.path(), dir_ / entry.path().filename());
  }
  ~MappingDir() { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name, std::ios::trunc) << text; }
  const fs::path& path() const { return dir_; }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

std::string load_error(const std::string& file, const std::string& text) {
  MappingDir dir;
  dir.write(file, text);
  auto tables = TableSet::load(dir.path());
  EXPECT_FALSE(tables) << "expected " << file << " to be refused";
  return tables ? std::string() : tables.error().message;
}

TEST(MappingLoad, ProjectTablesLoad) {
  auto tables = TableSet::load(mappings_dir);
  ASSERT_TRUE(tables) << tables.error().message;
  EXPECT_EQ(tables->contact.list("fields").rules.size(), 22u);
  EXPECT_EQ(tables->order.list("fields").rules.size(), 18u);
  EXPECT_EQ(tables->order.statuses.size(), 7u);
  EXPECT_EQ(tables->contact.list("fields").rules[4].from.size(), 6u);  // customer_id: the generic userId paths
}

TEST(MappingLoad, ErrorsNameTheFileAndTheEntry) {
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"type","form":"type"}]})"),
            "mapping error in variant.json fields[1]: unknown key \"form\"");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"a..b"}]})"),
            "mapping error in variant.json fields[0]: bad source path \"a..b\" (empty segment)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","validate":"luhn"}]})"),
            "mapping error in variant.json fields[0]: unknown validator \"luhn\" (e164, iso8601, iso4217, boolean)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","generic":"nickname"}]})"),
            "mapping error in variant.json fields[0]: unknown generic lookup \"nickname\" (see generic.json)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","transform":["reverse"]}]})"),
            "mapping error in variant.json fields[0]: unknown transform \"reverse\" (trim, upper, lower)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","validate":"e164","onInvalid":"fail"}]})"),
            "mapping error in variant.json fields[0]: \"onInvalid\": \"fail\" needs an \"error\" message");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"id","from":"x"}]})"),
            "mapping error in variant.json fields[1]: \"id\" is mapped twice");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id"}]})"),
            "mapping error in variant.json fields[0]: a rule needs exactly one of \"from\" or \"generic\"");
  EXPECT_EQ(load_error("variant.json", R"({"rules":[]})"), "mapping error in variant.json: unknown key \"rules\"");
  EXPECT_EQ(load_error("order.json", R"({"fields":[]})"), "mapping error in order.json: missing the rule list \"customer\"");
  EXPECT_NE(load_error("contact.json", "{not json").find("is not valid JSON"), std::string::npos);
}

TEST(MappingLoad, MissingFileIsAnError) {
  MappingDir dir;
  fs::remove(dir.path() / "lineitems.json");
  auto tables = TableSet::load(dir.path());
  ASSERT_FALSE(tables);
  EXPECT_NE(tables.error().message.find("lineitems.json"), std::string::npos);
}

TEST(MappingLoad, AddingAFieldIsADataChange) {
  MappingDir dir;
  dir.write("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"type","from":"type"},{"to":"label","from":"label"},
                                          {"to":"swatch","from":["swatch","colour"],"transform":["lower"]}]})");
  auto tables = TableSet::load(dir.path());
  ASSERT_TRUE(tables) << tables.error().message;
  simdjson::dom::parser parser;
  simdjson::dom::element variant;
  ASSERT_EQ(parser.parse(std::string_view(R"({"id":"v1","type":"colour","label":"Red","colour":"RED"})")).get(variant),
            simdjson::SUCCESS);
  omt::json::Arena arena;
  auto out = omt::mapping::apply(tables->variant.list("fields"), variant, arena);
  ASSERT_TRUE(out);
  std::string text;
  omt::json::write(text, omt::json::OutValue(std::move(*out)));
  EXPECT_EQ(text, R"({"id":"v1","type":"colour","label":"Red","swatch":"red"})");
}

// ---- apply ------------------------------------------------------------------------------------------------------

class MappingApply : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = TableSet::load(mappings_dir);
    ASSERT_TRUE(loaded);
    tables_ = std::make_unique<TableSet>(std::move(*loaded));
  }
  omt::Expected<std::string> map(const omt::mapping::RuleList& rules, std::string_view event) {
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(event.data(), event.size()).get(e), simdjson::SUCCESS);
    omt::json::Arena arena;
    auto out = omt::mapping::apply(rules, e, arena);
    if (!out) return tl::unexpected(out.error());
    std::string text;
    omt::json::write(text, omt::json::OutValue(std::move(*out)));
    return text;
  }
  std::string custom(const omt::mapping::CustomFields& spec, std::string_view event) {
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(event.data(), event.size()).get(e), simdjson::SUCCESS);
    std::string text;
    omt::json::write(text, omt::json::OutValue(omt::mapping::extract_custom_fields(spec, e)));
    return text;
  }
  std::unique_ptr<TableSet> tables_;
  simdjson::dom::parser parser_;
};

TEST_F(MappingApply, FirstQualifyingSourceWinsAndEmptyStringsAreSkipped) {
  auto out = map(tables_->order.list("customer"),
                 R"({"userId":"","anonymousId":"anon","traits":{"email":""},"context":{"traits":{"email":null}},"properties":{"email":"p@x.io"}})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"id":"anon","email":"p@x.io"})");
}

TEST_F(MappingApply, ZeroAndFalseQualify) {
  auto out = map(tables_->lineitems.list("fields"), R"({"product_id":"p","quantity":0,"unit_price":0,"refunded":false})");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"product_id":"p","quantity":0,"unit_price":0,"refunded":false})");
}

TEST_F(MappingApply, RequiredMessagesQuoteTheSourceKeysAsWritten) {
  auto single = map(tables_->order.list("fields"), R"({"properties":{}})");
  ASSERT_FALSE(single);
  EXPECT_EQ(single.error().message, R"(Missing required value from "properties.order_id")");
  auto list = map(tables_->order.list("fields"), R"({"properties":{"order_id":"o1"}})");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().message, R"(Missing required value from ["properties.timestamp","timestamp","originalTimestamp"])");
  auto generic = map(tables_->custom_event.list("fields"),
                     R"({"timestamp":"2024-01-01T00:00:00Z","context":{"traits":{"email":"a@b.c"}}})");
  ASSERT_FALSE(generic);
  EXPECT_EQ(generic.error().message, R"(Missing required value from "userId")");
}

TEST_F(MappingApply, RequiredErrorsComeBeforeValidatorErrors) {
  // Bad timestamp and missing currency: constructPayload's required check runs over every field first.
  auto out = map(tables_->order.list("fields"), R"({"properties":{"order_id":"o","timestamp":"x","grand_total":1}})");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, R"(Missing required value from "properties.currency")");
}

TEST_F(MappingApply, ValueMapDropsUnlistedValues) {
  EXPECT_EQ(*map(tables_->contact.list("fields"), R"({"traits":{"email":"e","gender":"FEMALE"}})"),
            R"({"email":"e","gender":"f"})");
  EXPECT_EQ(*map(tables_->contact.list("fields"), R"({"traits":{"email":"e","gender":"fem"}})"), R"({"email":"e"})");
  EXPECT_EQ(*map(tables_->contact.list("fields"), R"({"traits":{"email":"e","gender":1}})"), R"({"email":"e"})");
}

TEST_F(MappingApply, TypeCheckNamesTheSourceField) {
  auto out = map(tables_->order.list("fields"),
                 R"({"properties":{"order_id":"o","timestamp":"2024-01-01T00:00:00Z","grand_total":1,"currency":840}})");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "properties.currency must be a string, got number");
  EXPECT_EQ(out.error().path, "properties.currency");
}

TEST_F(MappingApply, KeepEmptyCopiesNullAndEmptyStringRaw) {
  EXPECT_EQ(*map(tables_->order.list("address"), R"({"city":null,"state":"","country":"GB","postalCode":""})"),
            R"({"city":null,"state":"","country_code":"GB"})");
}

TEST_F(MappingApply, CustomFieldsLaterPathsOverwriteEarlierAndDottedKeysNest) {
  EXPECT_EQ(custom(*tables_->contact.custom_fields,
                   R"({"traits":{"a":1,"email":"x","b.c":2,"n":null},"context":{"traits":{"a":3,"z":"","listingId":"l"}}})"),
            R"({"a":3,"b":{"c":2},"n":null,"z":""})");
  EXPECT_EQ(custom(*tables_->lineitems.custom_fields, R"({"product_id":"p","name":"Shoe","__proto__":{"x":1}})"),
            R"({"name":"Shoe"})");
}

TEST_F(MappingApply, PathsThroughArraysAndNonObjects) {
  simdjson::dom::element e;
  ASSERT_EQ(parser_.parse(std::string_view(R"({"a":[{"b":1},{"b":2}],"s":"text"})")).get(e), simdjson::SUCCESS);
  auto path = [](std::vector<std::string> segments) { return omt::mapping::SourcePath{"", std::move(segments)}; };
  auto v = omt::mapping::lookup(e, path({"a", "1", "b"}));
  ASSERT_TRUE(v);
  EXPECT_EQ(int64_t(v->get_int64().value_unsafe()), 2);
  EXPECT_FALSE(omt::mapping::lookup(e, path({"a", "9", "b"})));
  EXPECT_FALSE(omt::mapping::lookup(e, path({"s", "length"})));
  EXPECT_FALSE(omt::mapping::lookup(e, path({"a", "x"})));
}

}  // namespace
