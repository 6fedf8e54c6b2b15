// Golden cases of the sources' own mapping (docs/sources.md): every tests/cases/sources/*.json file is one
// `sources` entry, one event, and what it must become, written from ../shared/OMETRIA_RECORDS.md and the seeds,
// not from the implementation's output:
//   {"description": "...", "source": {sources entry}, "event": {...},
//    "expect": {"record": {Ometria record}, "incomplete": "what a product lacks" (absent: nothing)}
//              | {"skip": "outcome"} | {"error": "exact message"}
//              | {"config_error": "a part of the start-up error"}}
// The entry is read by the real configuration reader (name, write_key and api_key are filled in when absent); a
// record is compared as a JSON value (key order aside: these records are ours, not rudder-transformer's).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mapping_dir.hpp"
#include "omt/config/config.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/source_mapper.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path cases_dir() { return fs::path(OMT_SOURCE_DIR) / "tests" / "cases" / "sources"; }

std::vector<std::string> case_file_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cases_dir(), ec))
    if (entry.is_regular_file() && entry.path().extension() == ".json") names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

const omt::Expected<omt::ometria::Transformer>& shared_transformer() {
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  return transformer;
}

class SourceCase : public testing::TestWithParam<std::string> {};

TEST_P(SourceCase, BecomesWhatItShould) {
  const auto& transformer = shared_transformer();
  ASSERT_TRUE(transformer) << transformer.error().message;
  const json c = read_json(cases_dir() / GetParam());
  ASSERT_TRUE(c.contains("source") && c.contains("event") && c.contains("expect")) << "a case needs source, event, expect";
  const json& expect = c["expect"];

  json entry = c["source"];
  if (!entry.contains("name")) entry["name"] = "case";
  if (!entry.contains("write_key") && !entry.contains("webhook_token")) entry["write_key"] = "wk_case";
  if (!entry.contains("api_key")) entry["api_key"] = "case-api-key";
  auto raw = omt::config::RawConfig::parse(json{{"sources", json::array({entry})}}.dump(), GetParam());
  ASSERT_TRUE(raw) << raw.error().message;
  auto config = omt::config::validate(*raw);
  if (expect.contains("config_error")) {
    ASSERT_FALSE(config) << "the settings were accepted";
    EXPECT_NE(config.error().message.find(expect["config_error"].get<std::string>()), std::string::npos)
        << config.error().message;
    return;
  }
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->sources.size(), 1u);

  simdjson::dom::parser parser;
  const std::string event_text = c["event"].dump();
  simdjson::dom::element event;
  ASSERT_EQ(parser.parse(event_text).get(event), simdjson::SUCCESS);
  auto mapped = omt::sources::map_event(*transformer, event, config->sources[0]);

  if (expect.contains("error")) {
    ASSERT_FALSE(mapped) << "mapped, expected the error " << expect["error"];
    EXPECT_EQ(mapped.error().message, expect["error"].get<std::string>());
  } else if (expect.contains("skip")) {
    ASSERT_TRUE(mapped) << mapped.error().message;
    ASSERT_TRUE(mapped->skip) << "not skipped: " << (mapped->record ? mapped->record->json : "");
    EXPECT_EQ(mapped->skip->outcome, expect["skip"].get<std::string>());
  } else {
    ASSERT_TRUE(expect.contains("record")) << "expect needs record, skip, error or config_error";
    ASSERT_TRUE(mapped) << mapped.error().message;
    ASSERT_TRUE(mapped->record) << "skipped: " << mapped->skip->outcome;
    EXPECT_EQ(json::parse(mapped->record->json), expect["record"]) << mapped->record->json;
    EXPECT_EQ(mapped->incomplete_product ? mapped->incomplete_product->missing : "", expect.value("incomplete", ""));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SourceCase, testing::ValuesIn(case_file_names()),
                         [](const testing::TestParamInfo<std::string>& param) {
                           std::string name = fs::path(param.param).stem().string();
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SourceCase);

}  // namespace
