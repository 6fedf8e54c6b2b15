// The mapping loader: mappings/*.json -> TableSet, and the errors that name the file, the rule and the entry.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "mapping/applier.hpp"
#include "mapping/loader.hpp"
#include "mapping_dir.hpp"
#include "ometria/output_contract.hpp"

namespace fs = std::filesystem;
using omt::mapping::TableSet;
using omt::test::MappingDir;

namespace {

omt::Expected<TableSet> load(const fs::path& dir) { return omt::mapping::load_tables(dir, omt::ometria::contract::all); }

// The message that loading the project's mappings gives with `file` rewritten to `text`.
std::string load_error(const std::string& file, const std::string& text) {
  MappingDir dir;
  dir.write(file, text);
  auto tables = load(dir.path());
  EXPECT_FALSE(tables) << "expected " << file << " to be refused";
  return tables ? std::string() : tables.error().message;
}

TEST(MappingLoad, ProjectTablesLoad) {
  auto tables = load(omt::test::project_mappings_dir());
  ASSERT_TRUE(tables) << tables.error().message;
  EXPECT_EQ(tables->contact.list("fields").rules.size(), 22u);
  EXPECT_EQ(tables->order.list("fields").rules.size(), 18u);
  EXPECT_EQ(tables->order.statuses.size(), 7u);
  EXPECT_EQ(tables->contact.list("fields").rules[4].from.size(), 6u);  // customer_id: the generic userId paths
}

TEST(MappingLoad, ErrorsNameTheFileAndTheEntry) {
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"type","form":"type"}]})"),
            "mapping error in variant.json fields[1] (to \"type\"): unknown key \"form\"");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"a..b"}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): bad source path \"a..b\" (empty segment)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","validate":"luhn"}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): unknown validator \"luhn\" (e164, iso8601, iso4217, boolean)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","generic":"nickname"}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): unknown generic lookup \"nickname\" (see generic.json)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","transform":["reverse"]}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): unknown transform \"reverse\" (trim, upper, lower)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","validate":"e164","onInvalid":"fail"}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): \"onInvalid\": \"fail\" needs an \"error\" message");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"id","from":"x"}]})"),
            "mapping error in variant.json fields[1] (to \"id\"): \"id\" is mapped twice");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"id","from":["x","y"],"ifEmpty":true}]})"),
            "mapping error in variant.json fields[1] (to \"id\"): \"ifEmpty\" needs exactly one source path, and no "
            "\"required\" or \"keepEmpty\"");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","ifEmpty":true},{"to":"id","from":"x","ifEmpty":true}]})"),
            "mapping error in variant.json fields[1] (to \"id\"): \"id\" is mapped twice");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id","from":"id","ifEmpty":"yes"}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): \"ifEmpty\" must be true or false");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"id"}]})"),
            "mapping error in variant.json fields[0] (to \"id\"): a rule needs exactly one of \"from\" or \"generic\"");
  EXPECT_EQ(load_error("variant.json", R"({"rules":[]})"), "mapping error in variant.json: unknown key \"rules\"");
  EXPECT_EQ(load_error("order.json", R"({"fields":[]})"), "mapping error in order.json: missing the rule list \"customer\"");
  EXPECT_EQ(load_error("product.json", R"({"fields":[],"attribute":[],"listing":[],"customFields":{"from":"root"},
                                          "stockEvents":{"product out of stock":"no"}})"),
            "mapping error in product.json stockEvents: \"product out of stock\" must be true (in stock) or false (out of stock)");
  EXPECT_EQ(load_error("product.json", R"({"fields":[],"attribute":[],"customFields":{"from":"root"}})"),
            "mapping error in product.json: missing the rule list \"listing\"");
}

TEST(MappingLoad, RuleErrorsNameTheRuleByItsTo) {
  // A rule deep in a long list is named by its Ometria field too, not only by its index.
  MappingDir dir;
  dir.replace("lineitems.json", R"({"to": "totals", "from": "totals"})", R"({"to": "totals", "form": "totals"})");
  auto tables = load(dir.path());
  ASSERT_FALSE(tables);
  EXPECT_EQ(tables.error().message, R"(mapping error in lineitems.json fields[12] (to "totals"): unknown key "form")");
  EXPECT_EQ(tables.error().path, R"(lineitems.json fields[12] (to "totals"))");
  // A rule without a usable "to" can only be named by its index.
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"from":"id"}]})"),
            R"(mapping error in variant.json fields[0]: "to" (the Ometria field) must be a non-empty string)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":"","from":"id"}]})"),
            R"(mapping error in variant.json fields[0]: "to" (the Ometria field) must be a non-empty string)");
  EXPECT_EQ(load_error("variant.json", R"({"fields":[{"to":7,"from":"id"}]})"),
            R"(mapping error in variant.json fields[0]: "to" (the Ometria field) must be a non-empty string)");
  EXPECT_EQ(load_error("order.json", R"({"fields":[{"to":"id","from":"x"}],"customer":[{"to":"email","from":["a",1]}]})"),
            R"(mapping error in order.json customer[0] (to "email"): a source path must be a string)");
}

TEST(MappingLoad, JsonSyntaxErrorsSayTheLineAndColumn) {
  const std::string message = load_error("contact.json", "{\n  \"fields\": [\n    {\"to\": \"email\" \"from\": \"traits.email\"}\n  ]\n}\n");
  EXPECT_EQ(message.rfind("mapping file contact.json is not valid JSON: ", 0), 0u) << message;
  EXPECT_NE(message.find("line 3, column 25"), std::string::npos) << message;
  EXPECT_NE(load_error("generic.json", "{\"userId\": [\"userId\",]}").find("generic.json is not valid JSON: "
                                                                   "[json.exception.parse_error.101] parse error at line 1, column 22"),
            std::string::npos);
  // Comments are allowed in mapping files, and do not move the reported position.
  const std::string commented = load_error("variant.json", "// options\n{\"fields\": [}\n");
  EXPECT_NE(commented.find("line 2, column 13"), std::string::npos) << commented;
}

TEST(MappingLoad, MissingFileIsAnError) {
  MappingDir dir;
  fs::remove(dir.path() / "lineitems.json");
  auto tables = load(dir.path());
  ASSERT_FALSE(tables);
  EXPECT_NE(tables.error().message.find("lineitems.json"), std::string::npos);
}

TEST(MappingLoad, AddingAFieldIsADataChange) {
  MappingDir dir;
  dir.write("variant.json", R"({"fields":[{"to":"id","from":"id"},{"to":"type","from":"type"},{"to":"label","from":"label"},
                                          {"to":"swatch","from":["swatch","colour"],"transform":["lower"]}]})");
  auto tables = load(dir.path());
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

}  // namespace
