// transform's --destination-config: RudderStack's spelling of a source's settings, checked by the same rules,
// each failure saying which it is.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "omt/config/config.hpp"
#include "omt/config/destination.hpp"

namespace omt::config {
namespace {

std::string error_of(std::string_view text) {
  auto d = parse_destination_config(text, "d.json");
  if (d) return "(valid)";
  EXPECT_EQ(d.error().code, errc::invalid_config);
  return d.error().message;
}

TEST(DestinationConfig, ReadsRudderStacksSettings) {
  auto d = parse_destination_config(
      R"({"apiKey": "k", "marketingOptin": "EXPLICITLY_OPTEDOUT", "allowMarketing": true, "allowTransactional": false})",
      "d.json");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->api_key, "k");
  EXPECT_EQ(d->marketing_optin, "EXPLICITLY_OPTEDOUT");
  EXPECT_EQ(d->allow_marketing, true);
  EXPECT_EQ(d->allow_transactional, false);
  EXPECT_FALSE(d->collection);

  d = parse_destination_config(R"({"apiKey": "k", "marketingOptin": ""})", "d.json");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_FALSE(d->marketing_optin);  // "" is RudderStack's "not set"
  EXPECT_FALSE(d->allow_marketing);
}

TEST(DestinationConfig, AWholeDestinationIsReadForItsConfig) {
  auto d = parse_destination_config(
      R"({"ID": "d1", "Name": "Ometria", "Enabled": true, "DestinationDefinition": {"Name": "OMETRIA"},
          "Config": {"apiKey": "k", "marketingOptin": "NOT_SPECIFIED", "oneTrustCookieCategories": [],
                     "consentManagement": [], "ketchConsentPurposes": []}})",
      "d.json");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->api_key, "k");
  EXPECT_EQ(d->marketing_optin, "NOT_SPECIFIED");
  EXPECT_EQ(error_of(R"({"Config": {"apikey": "k"}})"), "d.json: Config: unknown key \"apikey\" (did you mean \"apiKey\"?)");
  EXPECT_EQ(error_of(R"({"Config": {"apiKey": 7}})"), "d.json: Config.apiKey: expected a string or {\"env\": \"VARIABLE\"}");
}

TEST(DestinationConfig, EachFailureSaysWhichItIs) {
  EXPECT_EQ(error_of(R"({"apikey": "k"})"), "d.json: unknown key \"apikey\" (did you mean \"apiKey\"?)");
  EXPECT_EQ(error_of(R"({"apiKey": "k", "allowMarketting": true})"),
            "d.json: unknown key \"allowMarketting\" (did you mean \"allowMarketing\"?)");
  EXPECT_EQ(error_of(R"({"apiKey": "k", "colour": "blue"})"),
            "d.json: unknown key \"colour\" (known: apiKey, marketingOptin, allowMarketing, allowTransactional)");
  EXPECT_EQ(error_of(R"({"apiKey": "k", "marketingOptin": "YES"})"),
            "d.json: marketingOptin: expected one of \"\", EXPLICITLY_OPTEDIN, EXPLICITLY_OPTEDOUT, NOT_SPECIFIED, got \"YES\"");
  EXPECT_EQ(error_of(R"({"apiKey": "k", "allowMarketing": "true"})"), "d.json: allowMarketing: expected true or false");
  EXPECT_EQ(error_of(R"({"apiKey": "k", "allowTransactional": 1})"), "d.json: allowTransactional: expected true or false");
  EXPECT_EQ(error_of(R"({"apiKey": ""})"), "d.json: apiKey: is required (the Ometria API key)");
  EXPECT_EQ(error_of(R"({})"), "d.json: apiKey: is required (the Ometria API key)");
  EXPECT_EQ(error_of("[1]"),
            "d.json: expected a JSON object (the destination's Config, or a whole destination with its \"Config\")");
  EXPECT_EQ(error_of("{\"apiKey\": \"k\",\n\"x\"}"),
            "d.json is not JSON: line 2 column 4: syntax error while parsing object separator - unexpected '}'; expected ':'");
  EXPECT_EQ(error_of(""), "d.json is not JSON: line 1 column 1: syntax error while parsing value - unexpected end of "
                          "input; expected '[', '{', or a literal");
}

TEST(DestinationConfig, TheRulesAreASourcesRules) {
  // The same value refused the same way in the service's config, under the source's spelling.
  auto raw = RawConfig::parse(R"({"sources": [{"write_key": "w", "api_key": "k", "marketing_optin": "YES"}]})", "c.json");
  ASSERT_TRUE(raw);
  EXPECT_EQ(validate(*raw).error().message,
            "c.json: sources[0].marketing_optin: expected one of \"\", EXPLICITLY_OPTEDIN, EXPLICITLY_OPTEDOUT, "
            "NOT_SPECIFIED, got \"YES\"");
}

TEST(DestinationConfig, AFileThatCannotBeOpenedIsNotCalledInvalid) {
  const auto missing = read_destination_config("/nonexistent/destination.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "cannot open /nonexistent/destination.json: No such file or directory");

  const auto dir = std::filesystem::temp_directory_path();
  const auto directory = read_destination_config(dir);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message, "cannot read " + dir.string() + ": Is a directory");

  const auto file = dir / ("omt-destination-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"({"apiKey": "from-file"})";
  const auto read = read_destination_config(file);
  std::filesystem::remove(file);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->api_key, "from-file");
}

}  // namespace
}  // namespace omt::config
