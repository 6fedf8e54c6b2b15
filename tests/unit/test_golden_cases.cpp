// Golden cases: every tests/cases/*.json file is one RudderStack event, its destination Config and either the
// exact Ometria record expected (key order and compact bytes included) or the exact error. The expected values
// were written from the seed's mapping tables, the contract (sections 7-9) and COMPATIBILITY.md, not from the
// implementation's output.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

fs::path cases_dir() { return fs::path(OMT_SOURCE_DIR) / "tests" / "cases"; }

std::vector<std::string> case_file_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cases_dir(), ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") names.push_back(entry.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Loaded once for the whole suite, as the service does.
const omt::Expected<omt::ometria::Transformer>& shared_transformer() {
  static const auto transformer =
      omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  return transformer;
}

std::string test_name_from_file(const std::string& file_name) {
  std::string name = file_name.substr(0, file_name.rfind('.'));
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

class GoldenCase : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenCase, TransformsAsSpecified) {
  const std::string text = read_text(cases_dir() / GetParam());
  const ordered_json spec = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(spec.is_discarded()) << GetParam() << " is not valid JSON";
  ASSERT_TRUE(spec.contains("description") && spec["description"].is_string());
  ASSERT_TRUE(spec.contains("covers") && spec["covers"].is_array() && !spec["covers"].empty());
  ASSERT_TRUE(spec.contains("destination") && spec["destination"].is_object());
  ASSERT_TRUE(spec.contains("message") && spec["message"].is_object());
  const int outcomes = int(spec.contains("expected")) + int(spec.contains("error")) + int(spec.contains("errorPrefix"));
  ASSERT_EQ(outcomes, 1) << "a case has exactly one of expected, error, errorPrefix";

  const auto& transformer = shared_transformer();
  ASSERT_TRUE(transformer.has_value()) << "mappings failed to load: " << transformer.error().message;

  // Two parsers: a dom::element lives only as long as its parser's current document.
  simdjson::dom::parser message_parser;
  simdjson::dom::parser destination_parser;
  const std::string message_json = spec["message"].dump();
  const std::string destination_json = spec["destination"].dump();
  simdjson::dom::element message;
  simdjson::dom::element destination;
  ASSERT_EQ(message_parser.parse(message_json).get(message), simdjson::SUCCESS);
  ASSERT_EQ(destination_parser.parse(destination_json).get(destination), simdjson::SUCCESS);

  const omt::ometria::DestinationConfig config = omt::ometria::destination_config_from(destination);
  const auto result = transformer->transform(message, config);

  if (spec.contains("expected")) {
    const ordered_json& expected = spec["expected"];
    ASSERT_TRUE(result.has_value()) << "expected a record, got error: " << result.error().message
                                    << "\n  expected: " << expected.dump();
    const ordered_json actual = ordered_json::parse(result->json, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(actual.is_discarded()) << "record is not valid JSON: " << result->json;
    // dump() of ordered_json keeps key order, so this comparison is order-sensitive.
    EXPECT_EQ(actual.dump(), expected.dump()) << "\n  expected: " << expected.dump()
                                              << "\n  actual:   " << result->json;
    // Same content and order: the record must also be compact JSON, byte for byte (rudder-transformer's batch
    // strings are compared as strings). Only checked then, so that a content mismatch is reported once.
    if (actual.dump() == expected.dump()) {
      EXPECT_EQ(result->json, expected.dump());
    }
    ASSERT_TRUE(expected.contains("@type"));
    EXPECT_EQ(omt::ometria::to_string(result->type), expected["@type"].get<std::string>());
    return;
  }

  ASSERT_FALSE(result.has_value()) << "expected an error, got record: " << result->json;
  ASSERT_TRUE(spec.contains("statusCode") && spec["statusCode"].is_number_integer());
  if (spec.contains("error")) {
    EXPECT_EQ(result.error().message, spec["error"].get<std::string>());
  } else {
    const auto prefix = spec["errorPrefix"].get<std::string>();
    EXPECT_EQ(result.error().message.substr(0, prefix.size()), prefix) << "message: " << result.error().message;
  }
  EXPECT_EQ(omt::http_status(result.error().code), spec["statusCode"].get<int>())
      << "code: " << omt::to_string(result.error().code) << ", message: " << result.error().message;
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenCase, ::testing::ValuesIn(case_file_names()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return test_name_from_file(param_info.param);
                         });

TEST(GoldenCases, FolderHoldsAtLeast45Cases) {
  EXPECT_GE(case_file_names().size(), 45U) << "cases folder: " << cases_dir();
}

}  // namespace
