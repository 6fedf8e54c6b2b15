// The environment checked like the file: OMT_ variables that name no key are errors, a value's errors name
// the variable (or the flag) it came from, OMT_SOURCES sets the sources, and the scripts' variables are let be.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "omt/config/config.hpp"

namespace omt::config {
namespace {

Expected<Config> validate_with(std::string_view file, const std::vector<EnvironmentVariable>& environment) {
  auto raw = RawConfig::parse(file, "config.json");
  if (!raw) return tl::unexpected(raw.error());
  auto applied = raw->apply_environment(environment);
  if (!applied) return tl::unexpected(applied.error());
  return validate(*raw);
}

std::string error_of(std::string_view file, const std::vector<EnvironmentVariable>& environment) {
  auto c = validate_with(file, environment);
  if (c) return "(valid)";
  EXPECT_EQ(c.error().code, errc::invalid_config);
  return c.error().message;
}

TEST(ConfigEnvironment, AValueFromAVariableNamesTheVariable) {
  EXPECT_EQ(error_of("{}", {{"OMT_SERVER_THREADS", "abc"}}),
            "OMT_SERVER_THREADS=abc: server.threads: expected an integer 0..1024");
  EXPECT_EQ(error_of("{}", {{"OMT_SERVER_THREADS", "2000"}}),
            "OMT_SERVER_THREADS=2000: server.threads: expected an integer 0..1024, got 2000");
  EXPECT_EQ(error_of("{}", {{"OMT_SERVER_LISTEN", "nowhere"}}),
            "OMT_SERVER_LISTEN=nowhere: server.listen: expected HOST:PORT, got \"nowhere\"");
  EXPECT_EQ(error_of("{}", {{"OMT_LOG_LEVEL", "verbose"}}),
            "OMT_LOG_LEVEL=verbose: log.level: expected one of trace, debug, info, warn, error, critical, off, got \"verbose\"");
  // A check across keys names the key it is about, and so that key's origin.
  EXPECT_EQ(error_of("{}", {{"OMT_OMETRIA_ENDPOINT", "http://127.0.0.1:1/v2/push"}}),
            "OMT_OMETRIA_ENDPOINT=http://127.0.0.1:1/v2/push: ometria.endpoint: plain http:// is refused unless "
            "ometria.allow_plain_http is true (tests only)");
}

TEST(ConfigEnvironment, AValueFromTheFileStillNamesTheFile) {
  EXPECT_EQ(error_of(R"({"server": {"threads": "abc"}})", {{"OMT_LOG_LEVEL", "debug"}}),
            "config.json: server.threads: expected an integer 0..1024");
  // The variable replaces the file's value, and so its origin.
  EXPECT_EQ(error_of(R"({"server": {"threads": "abc"}})", {{"OMT_SERVER_THREADS", "4"}}), "(valid)");
  EXPECT_EQ(error_of(R"({"server": {"threads": 4}})", {{"OMT_SERVER_THREADS", "x"}}),
            "OMT_SERVER_THREADS=x: server.threads: expected an integer 0..1024");
}

TEST(ConfigEnvironment, AFlagNamesTheFlag) {
  auto raw = RawConfig::parse(R"({"server": {"listen": "nowhere"}})", "config.json");
  ASSERT_TRUE(raw);
  ASSERT_TRUE(raw->apply_environment({{"OMT_SERVER_LISTEN", "also-nowhere"}}));
  raw->set("server.listen", std::string("nonsense"), "--listen nonsense");
  auto c = validate(*raw);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "--listen nonsense: server.listen: expected HOST:PORT, got \"nonsense\"");
  // Without an origin an override is the file's, as before.
  raw->set("server.listen", std::string("nonsense"));
  EXPECT_EQ(validate(*raw).error().message, "config.json: server.listen: expected HOST:PORT, got \"nonsense\"");
}

TEST(ConfigEnvironment, AnUnknownVariableIsAnErrorNamingIt) {
  EXPECT_EQ(error_of("{}", {{"OMT_SERVER_LISTNE", "127.0.0.1:0"}}),
            "OMT_SERVER_LISTNE: no configuration key has this variable (did you mean OMT_SERVER_LISTEN?); the OMT_ "
            "variables are OMT_<KEY> for each key, OMT_SOURCES and the secrets the config names");
  EXPECT_NE(error_of("{}", {{"OMT_SOURCE", "[]"}}).find("(did you mean OMT_SOURCES?)"), std::string::npos);
  EXPECT_NE(error_of("{}", {{"OMT_log_level", "info"}}).find("(did you mean OMT_LOG_LEVEL?)"), std::string::npos);
  // Far from every key: no suggestion.
  const auto far = error_of("{}", {{"OMT_COLOUR", "blue"}});
  EXPECT_EQ(far.rfind("OMT_COLOUR: no configuration key has this variable; ", 0), 0u) << far;
  // Whatever order the environment lists them in, the first in name order is reported.
  EXPECT_EQ(error_of("{}", {{"OMT_ZZZ", "1"}, {"OMT_AAA", "1"}}).rfind("OMT_AAA: ", 0), 0u);
  // Other variables are none of the config's business.
  EXPECT_EQ(error_of("{}", {{"HOME", "/root"}, {"OMTX", "1"}, {"omt_server_threads", "x"}}), "(valid)");
}

TEST(ConfigEnvironment, TheScriptsVariablesAreReserved) {
  for (const char* name : {"OMT_BUILD_DIR", "OMT_BUILD_TARGETS", "OMT_WITH_FUZZ", "OMT_TEST_SANITIZERS",
                           "OMT_TEST_FUZZ", "OMT_TEST_OMETRIA_KEY", "OMT_BODY_FILE", "OMT_AUTHORIZATION"}) {
    EXPECT_TRUE(reserved_environment_name(name)) << name;
    EXPECT_EQ(error_of("{}", {{name, "x"}}), "(valid)") << name;
  }
  // No key's variable is reserved, or setting it would be ignored by the check and could not be refused.
  for (const auto& key : known_keys()) EXPECT_FALSE(reserved_environment_name(environment_name(key))) << key;
  EXPECT_FALSE(reserved_environment_name(sources_environment_name));
  EXPECT_FALSE(reserved_environment_name("OMT_BUILD"));
}

TEST(ConfigEnvironment, TheSecretsTheConfigNamesAreNotUnknown) {
  const std::string file = R"({"sources": [{"write_key": {"env": "OMT_WRITE_KEY"}, "api_key": {"env": "OMT_API_KEY"}}]})";
  ::setenv("OMT_WRITE_KEY", "wk", 1);
  ::setenv("OMT_API_KEY", "ak", 1);
  auto c = validate_with(file, {{"OMT_WRITE_KEY", "wk"}, {"OMT_API_KEY", "ak"}});
  ::unsetenv("OMT_WRITE_KEY");
  ::unsetenv("OMT_API_KEY");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->sources.at(0).destination.api_key, "ak");
  // A variable no secret names is still unknown.
  EXPECT_EQ(error_of(file, {{"OMT_WRITE_KEYS", "wk"}}).rfind("OMT_WRITE_KEYS: no configuration key", 0), 0u);
}

TEST(ConfigEnvironment, SourcesFromTheEnvironmentReplaceTheFiles) {
  auto c = validate_with(R"({"sources": [{"name": "from-file", "write_key": "f", "api_key": "k"}]})",
                         {{"OMT_SOURCES", R"([{"name": "web", "write_key": "w1", "api_key": "k1", "marketing_optin": "NOT_SPECIFIED"},
                                             {"name": "hook", "webhook_token": "t2", "api_key": "k2"}])"}});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->sources.size(), 2u);
  EXPECT_EQ(c->sources[0].name, "web");
  EXPECT_EQ(c->sources[0].destination.marketing_optin, "NOT_SPECIFIED");
  EXPECT_EQ(c->sources[1].webhook_token, "t2");
  // An empty list: no sources, whatever the file has.
  c = validate_with(R"({"sources": [{"write_key": "f", "api_key": "k"}]})", {{"OMT_SOURCES", "[]"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->sources.empty());
  // The secrets a variable's sources name are known too.
  EXPECT_EQ(error_of("{}", {{"OMT_SOURCES", R"([{"write_key": "w", "api_key": {"env": "OMT_CONFIG_TEST_UNSET"}}])"},
                            {"OMT_CONFIG_TEST_UNSET", ""}}),
            "OMT_SOURCES: sources[0].api_key: environment variable OMT_CONFIG_TEST_UNSET is not set");
}

TEST(ConfigEnvironment, SourcesErrorsNameTheVariableNotItsSecrets) {
  EXPECT_EQ(error_of("{}", {{"OMT_SOURCES", R"([{"write_key": "secret-wk"}])"}}),
            "OMT_SOURCES: sources[0].api_key: is required (the Ometria API key)");
  EXPECT_EQ(error_of("{}", {{"OMT_SOURCES", R"({"write_key": "w"})"}}), "OMT_SOURCES: sources: expected a list of sources");
  const auto unknown = error_of("{}", {{"OMT_SOURCES", R"([{"write_key": "w", "api_key": "k", "apikey": "k"}])"}});
  EXPECT_EQ(unknown.rfind("OMT_SOURCES: sources[0].apikey: unknown key", 0), 0u) << unknown;
  const auto syntax = error_of("{}", {{"OMT_SOURCES", "[{\"write_key\": \"secret-wk\",\n \"api_key\" \"k\"}]"}});
  EXPECT_EQ(syntax.rfind("OMT_SOURCES: invalid JSON: line 2 column 14: syntax error while parsing object separator", 0), 0u)
      << syntax;
  EXPECT_EQ(syntax.find("secret-wk"), std::string::npos) << syntax;
  EXPECT_EQ(syntax.find("last read"), std::string::npos) << syntax;
}

TEST(ConfigEnvironment, TheProcessEnvironmentIsRead) {
  ::setenv("OMT_SERVER_THREADS", "3", 1);
  auto raw = RawConfig::parse("{}", "config.json");
  ASSERT_TRUE(raw);
  const auto applied = raw->apply_environment();
  ::unsetenv("OMT_SERVER_THREADS");
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_NE(std::find(applied->begin(), applied->end(), "OMT_SERVER_THREADS"), applied->end());
  auto c = validate(*raw);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.threads, 3u);
}

TEST(ConfigEnvironment, ErasingSourcesDropsTheirOrigin) {
  auto raw = RawConfig::parse("{}", "config.json");
  ASSERT_TRUE(raw);
  ASSERT_TRUE(raw->apply_environment({{"OMT_SOURCES", "[{}]"}}));
  raw->erase("sources");
  EXPECT_TRUE(validate(*raw));
}

}  // namespace
}  // namespace omt::config
