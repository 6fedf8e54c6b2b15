// The transform and check-config subcommands, run as the real binary the way a person would.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "omt-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    write("destination.json", R"({"apiKey":"cli-key","marketingOptin":"NOT_SPECIFIED","allowMarketing":false,"allowTransactional":false})");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  std::string read(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Runs the binary with args in a shell (so "< file" works); stdout and stderr are captured.
  // `environment` ("NAME='value' ...") is set for the child only.
  RunResult run(const std::string& args, const std::string& environment = {}) {
    const std::string command = environment + (environment.empty() ? "" : " ") + std::string(OMT_BINARY) + " " + args +
                                " >" + (dir_ / "out").string() + " 2>" + (dir_ / "err").string();
    const int status = std::system(command.c_str());
    return RunResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read(dir_ / "out"), read(dir_ / "err")};
  }
  std::string destination() const { return (dir_ / "destination.json").string(); }

  fs::path dir_;
};

const std::string identify =
    R"({"type":"identify","userId":"u1","traits":{"email":"ada@example.com","listingId":"L1","name":"Ada Lovelace"}})";
const std::string custom =
    R"({"type":"track","event":"Viewed","userId":"u1","messageId":"m1","originalTimestamp":"2024-05-01T10:00:00Z","context":{"traits":{"email":"ada@example.com"}}})";

TEST_F(CliTest, OneObjectGivesOneRecord) {
  const auto in = write("one.json", "{\n  \"type\": \"identify\",\n  \"userId\": \"u1\",\n  \"traits\": {\"email\": \"a@b.c\", \"listingId\": \"L\"}\n}\n");
  auto r = run("transform " + in.string() + " --destination-config " + destination());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            R"({"email":"a@b.c","id":"L","customer_id":"u1","@type":"contact","marketing_optin":"NOT_SPECIFIED","channels":{"sms":{"allow_marketing":false,"allow_transactional":false}}})"
            "\n");
}

TEST_F(CliTest, ArrayAndJsonLinesGiveOneLinePerEventAndExit1WhenSomeFail) {
  const std::string events[] = {identify, R"({"type":"page"})", custom};
  const auto array = write("events.json", "[" + events[0] + "," + events[1] + "," + events[2] + "]");
  const auto lines = write("events.jsonl", events[0] + "\n\n" + events[1] + "\n" + events[2] + "\nnot json\n");
  auto a = run("transform " + array.string() + " --destination-config " + destination());
  EXPECT_EQ(a.exit_code, 1);
  std::istringstream out(a.out);
  std::string line;
  std::vector<json> parsed;
  while (std::getline(out, line)) parsed.push_back(json::parse(line));
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0]["@type"], "contact");
  EXPECT_EQ(parsed[1], json::parse(R"({"index":1,"error":"message type page is not supported"})"));
  EXPECT_EQ(parsed[2]["@type"], "custom_event");

  auto l = run("transform - --destination-config " + destination() + " < " + lines.string());
  EXPECT_EQ(l.exit_code, 1);
  std::istringstream lout(l.out);
  parsed.clear();
  while (std::getline(lout, line)) parsed.push_back(json::parse(line));
  ASSERT_EQ(parsed.size(), 4u);
  EXPECT_EQ(parsed[1]["index"], 1);
  EXPECT_EQ(parsed[3]["index"], 3);
  EXPECT_EQ(parsed[3]["error"].get<std::string>().rfind("Invalid JSON at byte 1: ", 0), 0u) << parsed[3];
}

TEST_F(CliTest, AllGoodJsonLinesExit0) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += identify + "\n";
  const auto in = write("many.jsonl", text);
  auto r = run("transform " + in.string() + " --destination-config " + destination());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1000);
}

TEST_F(CliTest, RudderFormatWritesTheProcessorResponse) {
  const auto in = write("body.json", R"([{"message":)" + identify + R"(,"destination":{"Config":{"apiKey":"k"}},"metadata":{"jobId":7}}])");
  auto r = run("transform --format rudder " + in.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["statusCode"], 200);
  EXPECT_EQ(out[0]["metadata"]["jobId"], 7);
  EXPECT_EQ(out[0]["output"]["headers"]["X-Ometria-Auth"], "k");
}

TEST_F(CliTest, UnusableInputOrOptionsExit2) {
  EXPECT_EQ(run("transform " + write("x.txt", "hello").string() + " --destination-config " + destination()).exit_code, 2);
  EXPECT_EQ(run("transform /nonexistent/file --destination-config " + destination()).exit_code, 2);
  auto no_config = run("transform " + write("e.json", identify).string());
  EXPECT_EQ(no_config.exit_code, 2);
  EXPECT_NE(no_config.err.find("--destination-config FILE is required"), std::string::npos);
  EXPECT_EQ(run("transform --format xml -").exit_code, 2);
  EXPECT_EQ(run("transform " + write("e.json", identify).string() + " --destination-config " +
                write("bad.json", "[1]").string()).exit_code, 2);
  auto bad_mappings = run("transform " + write("e.json", identify).string() + " --destination-config " + destination() +
                          " --mappings " + dir_.string());
  EXPECT_EQ(bad_mappings.exit_code, 2);
  EXPECT_NE(bad_mappings.err.find("generic.json"), std::string::npos) << bad_mappings.err;
}

TEST_F(CliTest, CheckConfigMasksSecretsAndNamesBadKeys) {
  const auto good = write("config.json", R"({"sources":[{"name":"web","write_key":"write-key-secret-1",
      "webhook_token":"hook-token-secret-2","api_key":{"env":"OMT_CLI_TEST_KEY"},"collection":"web"}]})");
  auto r = run("check-config --config " + good.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sources[0].api_key: environment variable OMT_CLI_TEST_KEY is not set"), std::string::npos) << r.err;

  // With the variable set for the child only:
  const std::string command = "OMT_CLI_TEST_KEY=ometria-api-key-secret-3 " + std::string(OMT_BINARY) +
                              " check-config --config " + good.string() + " >" + (dir_ / "out").string();
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string out = read(dir_ / "out");
  const json effective = json::parse(out);
  EXPECT_EQ(effective["sources"][0]["name"], "web");
  EXPECT_EQ(effective["sources"][0]["write_key"], "<set>");
  EXPECT_EQ(effective["sources"][0]["api_key"].get<std::string>().rfind("key:", 0), 0u);
  EXPECT_EQ(effective["ometria"]["endpoint"], "https://api.ometria.com/v2/push");
  EXPECT_EQ(effective["queue"]["path"], "./data/queue.db");
  for (const char* secret : {"write-key-secret-1", "hook-token-secret-2", "ometria-api-key-secret-3"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret;

  auto bad = run("check-config --config " + write("bad.json", R"({"server":{"threads":"many"}})").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("server.threads"), std::string::npos) << bad.err;
}

// Every setting check-config knows is shown, the queue's URL with its password left out (in either form libpq takes).
TEST_F(CliTest, CheckConfigShowsTheQueueBackendAndUrlWithoutThePasswordAndEveryOtherSetting) {
  const auto config = write("config.json", R"({
      "queue": {"backend": "postgres", "url": {"env": "OMT_CLI_TEST_QUEUE_URL"}, "statement_timeout": "2s",
                "lease_timeout": "45s"},
      "delivery": {"freshness_warning": "2h"},
      "ingest": {"trusted_proxies": ["10.0.0.0/8", "::1"]},
      "import": {"max_queued": 5000}})");
  auto r = run("check-config --config " + config.string(),
               "OMT_CLI_TEST_QUEUE_URL='postgresql://omt:pg-word-secret@db.internal:5432/omt?sslmode=require'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("pg-word-secret"), std::string::npos) << r.out;
  const json effective = json::parse(r.out);
  EXPECT_EQ(effective["queue"]["backend"], "postgres");
  EXPECT_EQ(effective["queue"]["url"], "postgresql://omt:***@db.internal:5432/omt?sslmode=require");
  EXPECT_EQ(effective["queue"]["statement_timeout"], "2000ms");
  EXPECT_EQ(effective["queue"]["lease_timeout"], "45000ms");
  EXPECT_EQ(effective["delivery"]["freshness_warning"], "7200000ms");
  EXPECT_EQ(effective["ingest"]["trusted_proxies"], json::parse(R"(["10.0.0.0/8", "::1/128"])"));
  EXPECT_EQ(effective["import"]["max_queued"], 5000);

  auto keywords = run("check-config --config " + config.string(),
                      "OMT_CLI_TEST_QUEUE_URL=\"host=db.internal user=omt password='pg word secret' dbname=omt\"");
  ASSERT_EQ(keywords.exit_code, 0) << keywords.err;
  EXPECT_EQ(keywords.out.find("secret"), std::string::npos) << keywords.out;
  EXPECT_EQ(json::parse(keywords.out)["queue"]["url"], "host=db.internal user=omt password=*** dbname=omt");

  // The defaults: SQLite, no URL, no trusted proxies.
  auto defaults = run("check-config");
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  const json plain = json::parse(defaults.out);
  EXPECT_EQ(plain["queue"]["backend"], "sqlite");
  EXPECT_EQ(plain["queue"]["url"], "");
  EXPECT_EQ(plain["ingest"]["trusted_proxies"], json::array());
  EXPECT_EQ(plain["import"]["max_queued"], 200000);
  EXPECT_EQ(plain["delivery"]["freshness_warning"], "3600000ms");
}

TEST_F(CliTest, EveryCommandSaysWhatWentWrongTheSameWay) {
  // Parse errors name the command, as the command's own errors do.
  auto parse = run("transform --bogus");
  EXPECT_EQ(parse.exit_code, 2);
  EXPECT_EQ(parse.err.rfind("ometria-transformer transform: ", 0), 0u) << parse.err;
  auto nested = run("dead-letter replay --limit x");
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_EQ(nested.err.rfind("ometria-transformer dead-letter replay: --limit", 0), 0u) << nested.err;
  auto own = run("transform " + write("e.json", identify).string());
  EXPECT_EQ(own.err.rfind("ometria-transformer transform: --destination-config FILE is required", 0), 0u) << own.err;
  auto config = run("check-config --config " + write("bad.json", R"({"server":{"threads":"many"}})").string());
  EXPECT_EQ(config.err.rfind("ometria-transformer check-config: ", 0), 0u) << config.err;
  auto serve = run("serve --listen nonsense");
  EXPECT_EQ(serve.exit_code, 2);
  EXPECT_EQ(serve.err.rfind("ometria-transformer serve: ", 0), 0u) << serve.err;
  // After logging has started too: the log line, and the error said the same way.
  auto mappings = run("serve --listen 127.0.0.1:0 --mappings " + dir_.string());
  EXPECT_EQ(mappings.exit_code, 2);
  EXPECT_NE(mappings.err.find("\nometria-transformer serve: cannot load the mappings from " + dir_.string()),
            std::string::npos) << mappings.err;
}

TEST_F(CliTest, EveryHelpShowsDefaultsAndExitCodes) {
  for (const char* command : {"transform", "serve", "check-config", "queue stats", "dead-letter list",
                              "dead-letter replay", "dead-letter purge"}) {
    auto help = run(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("Exit status: 0 "), std::string::npos) << command << "\n" << help.out;
  }
  EXPECT_NE(run("transform --help").out.find("--format TEXT:{ometria,rudder}=ometria"), std::string::npos);
  EXPECT_NE(run("transform --help").out.find("Required with --format ometria"), std::string::npos);
  EXPECT_NE(run("transform --help").out.find("--destination-config FILE"), std::string::npos);
  EXPECT_NE(run("dead-letter list --help").out.find("=100"), std::string::npos);
}

// ---- settings from the environment and flags: checked like the file, errors name where the value came from ----

TEST_F(CliTest, AnEnvironmentValueOrAFlagIsNamedInItsError) {
  auto variable = run("check-config", "OMT_SERVER_THREADS=abc");
  EXPECT_EQ(variable.exit_code, 2);
  EXPECT_EQ(variable.err, "ometria-transformer check-config: OMT_SERVER_THREADS=abc: server.threads: expected an integer 0..1024\n");
  auto serve = run("serve", "OMT_SERVER_THREADS=abc");
  EXPECT_EQ(serve.exit_code, 2);
  EXPECT_EQ(serve.err, "ometria-transformer serve: OMT_SERVER_THREADS=abc: server.threads: expected an integer 0..1024\n");
  auto flag = run("serve --listen nonsense");
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_EQ(flag.err, "ometria-transformer serve: --listen nonsense: server.listen: expected HOST:PORT, got \"nonsense\"\n");
  // The flag wins over the variable, and so is the one named.
  auto both = run("serve --log-format xml", "OMT_LOG_FORMAT=text");
  EXPECT_EQ(both.err.rfind("ometria-transformer serve: --log-format xml: log.format: expected one of text, json", 0), 0u) << both.err;
  // A value from the file still names the file.
  const auto file = write("config.json", R"({"server":{"threads":"many"}})");
  auto from_file = run("check-config --config " + file.string());
  EXPECT_EQ(from_file.err, "ometria-transformer check-config: " + file.string() + ": server.threads: expected an integer 0..1024\n");
}

TEST_F(CliTest, AnUnknownVariableIsAStartUpErrorNamingIt) {
  for (const char* command : {"serve --listen 127.0.0.1:0", "check-config", "queue stats"}) {
    auto r = run(command, "OMT_SERVER_LISTNE=127.0.0.1:0");
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_NE(r.err.find(": OMT_SERVER_LISTNE: no configuration key has this variable (did you mean OMT_SERVER_LISTEN?)"),
              std::string::npos)
        << command << ": " << r.err;
  }
  // The scripts' own variables and the secrets the config names are not settings, and not errors.
  const auto config = write("config.json", R"({"sources":[{"write_key":{"env":"OMT_CLI_WRITE_KEY"},"api_key":"k"}]})");
  auto r = run("check-config --config " + config.string(),
               "OMT_BUILD_DIR=build OMT_BUILD_TARGETS=x OMT_TEST_FUZZ=0 OMT_WITH_FUZZ=1 OMT_CLI_WRITE_KEY=wk");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliTest, SourcesCanBeSetFromTheEnvironmentAsJson) {
  const auto config = write("config.json", R"({"sources":[{"name":"from-file","write_key":"f","api_key":"k"}]})");
  auto r = run("check-config --config " + config.string(),
               R"(OMT_SOURCES='[{"name":"web","write_key":"w","api_key":"k1","marketing_optin":"NOT_SPECIFIED"}]')");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json effective = json::parse(r.out);
  ASSERT_EQ(effective["sources"].size(), 1u);
  EXPECT_EQ(effective["sources"][0]["name"], "web");
  EXPECT_EQ(effective["sources"][0]["marketing_optin"], "NOT_SPECIFIED");

  auto syntax = run("check-config", R"(OMT_SOURCES='[{"name":"web",')");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_EQ(syntax.err.rfind("ometria-transformer check-config: OMT_SOURCES: invalid JSON: line 1 column 16: ", 0), 0u)
      << syntax.err;
  auto invalid = run("check-config", R"(OMT_SOURCES='[{"write_key":"secret-write-key"}]')");
  EXPECT_EQ(invalid.err, "ometria-transformer check-config: OMT_SOURCES: sources[0].api_key: is required (the Ometria API key)\n");
}

// ---- transform's --destination-config: each failure says which it is ----

TEST_F(CliTest, TheDestinationConfigIsCheckedLikeASourcesSettings) {
  const auto events = write("e.json", identify);
  auto with = [&](const std::string& destination_file) {
    return run("transform " + events.string() + " --destination-config " + destination_file);
  };
  const std::string prefix = "ometria-transformer transform: --destination-config: ";
  const std::string missing = (dir_ / "missing.json").string();
  EXPECT_EQ(with(missing).err, prefix + "cannot open " + missing + ": No such file or directory\n");
  const auto not_json = write("not.json", "apiKey: k\n");
  EXPECT_EQ(with(not_json.string()).err.rfind(prefix + not_json.string() + " is not JSON: line 1 column 1: ", 0), 0u);
  const auto list = write("list.json", "[1]");
  EXPECT_EQ(with(list.string()).err.rfind(prefix + list.string() + ": expected a JSON object", 0), 0u);
  const std::pair<const char*, const char*> cases[] = {
      {R"({"apikey":"k"})", R"(unknown key "apikey" (did you mean "apiKey"?))"},
      {R"({"apiKey":"k","marketingOptin":"YES"})",
       R"(marketingOptin: expected one of "", EXPLICITLY_OPTEDIN, EXPLICITLY_OPTEDOUT, NOT_SPECIFIED, got "YES")"},
      {R"({"apiKey":"k","allowMarketing":"yes"})", "allowMarketing: expected true or false"},
      {R"({"apiKey":""})", "apiKey: is required (the Ometria API key)"},
      {R"({"Config":{"apiKey":"k","allowTransactional":1}})", "Config.allowTransactional: expected true or false"},
  };
  for (const auto& [text, message] : cases) {
    const auto file = write("d.json", text);
    auto r = with(file.string());
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_EQ(r.err, prefix + file.string() + ": " + message + "\n") << text;
    EXPECT_TRUE(r.out.empty()) << text;
  }
  // A whole destination as RudderStack exports it, its consent settings included.
  const auto whole = write("whole.json", R"({"ID":"d1","Name":"Ometria","Config":{"apiKey":"k","marketingOptin":"NOT_SPECIFIED",
      "allowMarketing":false,"allowTransactional":false,"oneTrustCookieCategories":[],"consentManagement":[]}})");
  auto r = with(whole.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("marketing_optin":"NOT_SPECIFIED")"), std::string::npos) << r.out;
}

}  // namespace
