#include <gtest/gtest.h>

#include <algorithm>

#include "omt/config/config.hpp"

// The value syntax on its own (durations, sizes, addresses, secrets): test_config_values.cpp.

namespace omt::config {
namespace {

using namespace std::chrono_literals;

Expected<Config> validate_text(std::string_view text) {
  auto raw = RawConfig::parse(text, "test.json");
  if (!raw) return tl::unexpected(raw.error());
  return validate(*raw);
}

TEST(Config, EmptyConfigHasTheDefaults) {
  auto c = validate(RawConfig());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.host, "0.0.0.0");
  EXPECT_EQ(c->server.port, 9090);
  EXPECT_EQ(c->server.threads, 0u);
  EXPECT_EQ(c->server.limits.max_body_bytes, 32u << 20);
  EXPECT_EQ(c->server.limits.max_header_bytes, 8u << 10);
  EXPECT_EQ(c->log.level, "info");
  EXPECT_TRUE(c->mappings_dir.empty());
}

TEST(Config, ReadsEverySetting) {
  auto c = validate_text(R"({
    "server": {"listen": "127.0.0.1:8080", "threads": 3,
               "limits": {"max_body_bytes": "1MiB", "max_header_bytes": 4096, "max_connections": 50},
               "timeouts": {"read": "2s", "idle": 250, "write": "1m"},
               "shutdown_deadline": "500ms"},
    "log": {"level": "debug", "format": "json", "log_pii": true},
    "mappings_dir": "/etc/omt/mappings"})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->server.port, 8080);
  EXPECT_EQ(c->server.threads, 3u);
  EXPECT_EQ(c->server.limits.max_body_bytes, 1u << 20);
  EXPECT_EQ(c->server.limits.max_header_bytes, 4096u);
  EXPECT_EQ(c->server.limits.max_connections, 50u);
  EXPECT_EQ(c->server.timeouts.read, 2s);
  EXPECT_EQ(c->server.timeouts.idle, 250ms);
  EXPECT_EQ(c->server.timeouts.write, 60s);
  EXPECT_EQ(c->server.shutdown_deadline, 500ms);
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_EQ(c->log.format, "json");
  EXPECT_TRUE(c->log.log_pii);
  EXPECT_EQ(c->mappings_dir, "/etc/omt/mappings");
}

TEST(Config, ErrorsNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"server": {"listen": "nowhere"}})", "test.json: server.listen: expected HOST:PORT"},
      {R"({"server": {"listen": "1.2.3.4:70000"}})", "server.listen: expected a port 0..65535"},
      {R"({"server": {"threads": -1}})", "server.threads: expected an integer 0..1024, got -1"},
      {R"({"server": {"threads": 1.5}})", "server.threads: expected an integer"},
      {R"({"server": {"limits": {"max_body_bytes": "12 parsecs"}}})", "server.limits.max_body_bytes: unknown size unit"},
      {R"({"server": {"limits": {"max_body_bytes": 0}}})", "server.limits.max_body_bytes: expected a size from 1"},
      {R"({"server": {"limits": {"max_bodybytes": 10}}})", "server.limits.max_bodybytes: unknown key"},
      {R"({"server": {"timeouts": {"read": "soon"}}})", "server.timeouts.read: expected a duration"},
      {R"({"server": {"timeouts": {"read": 0}}})", "server.timeouts.read: expected a duration from 1ms"},
      {R"({"server": {"timeouts": []}})", "server.timeouts: expected an object"},
      {R"({"server": 5})", "server: expected an object"},
      {R"({"log": {"format": "xml"}})", "log.format: expected one of text, json, got \"xml\""},
      {R"({"log": {"log_pii": "yes"}})", "log.log_pii: expected true or false"},
      {R"({"mappings_dir": ""})", "mappings_dir: expected a non-empty path"},
      {R"({"queues": {}})", "queues: unknown key"},
      {R"({"queue": {"durability": "maybe"}})", "queue.durability: expected one of full, normal, got \"maybe\""},
      {R"({"queue": {"max_request_log": 0}})", "queue.max_request_log: expected an integer 1.."},
      {R"({"ometria": {"endpoint": "http://127.0.0.1:1/v2/push"}})", "ometria.endpoint: plain http:// is refused"},
      {R"({"ometria": {"endpoint": "ftp://x"}})", "ometria.endpoint: expected an https:// URL"},
      {R"({"delivery": {"requests_per_second": "fast"}})", "delivery.requests_per_second: expected a number"},
      {R"({"delivery": {"retry": {"max_attempts": -1}}})", "delivery.retry.max_attempts: expected an integer"},
      {R"({"ingest": {"max_events_per_request": 10001}})", "ingest.max_events_per_request: expected an integer 1..10000"},
      {R"({"ingest": {"retry_after": "0s"}})", "ingest.retry_after: expected a duration from 1000ms"},
      {R"({"ingest": {"max_slow_down": "1m"}})", "ingest.max_slow_down: expected a duration from 0ms"},
      {R"({"ingest": {"slow_down_from": -1}})", "ingest.slow_down_from: expected an integer"},
      {R"({"sources": {}})", "sources: expected a list of sources"},
      {R"({"sources": [{"write_key": "w"}]})", "sources[0].api_key: is required (the Ometria API key)"},
      {R"({"sources": [{"api_key": "k"}]})", "sources[0]: needs a write_key or a webhook_token"},
      {R"({"sources": [{"api_key": "k", "write_key": "w", "colour": 1}]})", "sources[0].colour: unknown key"},
      {R"({"sources": [{"api_key": {"env": "OMT_TEST_SURELY_UNSET"}, "write_key": "w"}]})",
       "sources[0].api_key: environment variable OMT_TEST_SURELY_UNSET is not set"},
      {R"({"sources": [{"api_key": "k", "write_key": "w"}, {"api_key": "k2", "write_key": "w"}]})",
       "sources[1].write_key: is used by another source"},
      {R"({"sources": [{"api_key": "k", "write_key": "w", "allowed_origins": "*"}]})",
       "sources[0].allowed_origins: expected a list of origins"},
      {R"({"sources": [{"api_key": "k", "write_key": "w", "allowed_origins": ["https://a.example", "https://b.example/"]}]})",
       "sources[0].allowed_origins[1]: expected an origin such as \"https://shop.example\""},
      {R"({"sources": [{"api_key": "k", "write_key": "w", "allowed_origins": ["shop.example"]}]})",
       "sources[0].allowed_origins[0]: expected an origin"},
      {R"({"sources": [{"api_key": "k", "write_key": "w", "allowed_origins": [7]}]})",
       "sources[0].allowed_origins[0]: expected an origin"},
  };
  for (const auto& [text, message] : cases) {
    auto c = validate_text(text);
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().code, errc::invalid_config);
    EXPECT_NE(c.error().message.find(message), std::string::npos) << text << " -> " << c.error().message;
  }
}

TEST(Config, TheRequestLogKeepsAHundredThousandPushesUnlessTold) {
  EXPECT_EQ(QueueConfig{}.max_request_log, 100'000u);
  auto c = validate_text(R"({"queue": {"max_request_log": 500}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->queue.max_request_log, 500u);
}

TEST(Config, SourcesAndSecretsFromTheEnvironment) {
  ::setenv("OMT_TEST_OMETRIA_KEY", "key-from-env", 1);
  auto c = validate_text(R"({"sources": [{"name": "web", "write_key": "wk", "api_key": {"env": "OMT_TEST_OMETRIA_KEY"},
                                          "marketing_optin": "NOT_SPECIFIED", "allow_marketing": true, "collection": "web"}],
                             "ometria": {"endpoint": "http://127.0.0.1:9/v2/push", "allow_plain_http": true},
                             "delivery": {"requests_per_second": 2.5, "linger": "50ms"}})");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(c->sources[0].name, "web");
  EXPECT_EQ(c->sources[0].destination.api_key, "key-from-env");
  EXPECT_EQ(c->sources[0].destination.marketing_optin, "NOT_SPECIFIED");
  EXPECT_EQ(c->sources[0].destination.allow_marketing, true);
  EXPECT_FALSE(c->sources[0].destination.allow_transactional);
  EXPECT_EQ(c->sources[0].destination.collection, "web");
  EXPECT_TRUE(c->sources[0].allowed_origins.empty());  // default: no browser origin
  EXPECT_EQ(c->delivery.rate_limit.requests_per_second, 2.5);
  EXPECT_EQ(c->delivery.linger, std::chrono::milliseconds(50));
  ::unsetenv("OMT_TEST_OMETRIA_KEY");
}

TEST(Config, ErrorsPollIntervalIsADurationAndZeroIsOff) {
  EXPECT_EQ(omt::config::Config{}.delivery.errors_poll_interval, std::chrono::minutes(5));
  auto off = validate_text(R"({"delivery": {"errors_poll_interval": "0"}})");
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->delivery.errors_poll_interval, std::chrono::milliseconds(0));
  auto often = validate_text(R"({"delivery": {"errors_poll_interval": "30s"}})");
  ASSERT_TRUE(often);
  EXPECT_EQ(often->delivery.errors_poll_interval, std::chrono::seconds(30));
  auto bad = validate_text(R"({"delivery": {"errors_poll_interval": "often"}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("delivery.errors_poll_interval"), std::string::npos) << bad.error().message;
}

TEST(Config, SourceAllowedOrigins) {
  auto c = validate_text(R"({"sources": [{"write_key": "w1", "api_key": "k1", "allowed_origins": ["https://shop.example", "http://localhost:8080"]},
                                         {"write_key": "w2", "api_key": "k2", "allowed_origins": ["*"]}]})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->sources[0].allowed_origins, (std::vector<std::string>{"https://shop.example", "http://localhost:8080"}));
  EXPECT_EQ(c->sources[1].allowed_origins, (std::vector<std::string>{"*"}));
}

TEST(Config, IngestLimits) {
  auto c = validate_text("{}");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ingest.max_events_per_request, 10'000u);
  EXPECT_EQ(c->ingest.retry_after, std::chrono::seconds(5));
  c = validate_text(R"({"ingest": {"max_events_per_request": 500, "retry_after": "30s"}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->ingest.max_events_per_request, 500u);
  EXPECT_EQ(c->ingest.retry_after, std::chrono::seconds(30));
  EXPECT_EQ(c->ingest.slow_down_from, 100'000u);
  EXPECT_EQ(c->ingest.max_slow_down, std::chrono::seconds(1));
  c = validate_text(R"({"ingest": {"slow_down_from": 0, "max_slow_down": "250ms"}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->ingest.slow_down_from, 0u);
  EXPECT_EQ(c->ingest.max_slow_down, std::chrono::milliseconds(250));
}

TEST(Config, EveryKeyHasAnEnvironmentVariable) {
  const auto keys = omt::config::known_keys();
  EXPECT_NE(std::find(keys.begin(), keys.end(), "server.limits.max_body_bytes"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "delivery.retry.max_attempts"), keys.end());
  EXPECT_EQ(omt::config::environment_name("server.limits.max_body_bytes"), "OMT_SERVER_LIMITS_MAX_BODY_BYTES");
  auto raw = RawConfig::parse(R"({"server": {"threads": 1}, "log": {"format": "text"}})", "test.json");
  ASSERT_TRUE(raw);
  const auto applied = raw->apply_environment({{"OMT_SERVER_THREADS", "3"},
                                               {"OMT_LOG_FORMAT", "json"},
                                               {"OMT_OMETRIA_ALLOW_PLAIN_HTTP", "true"},
                                               {"OMT_SERVER_TIMEOUTS_READ", "5s"},
                                               {"PATH", "/bin"}});
  ASSERT_TRUE(applied) << applied.error().message;
  raw->set("log.format", std::string("text"));  // a flag still wins over the environment
  EXPECT_EQ(applied->size(), 4u);
  auto c = validate(*raw);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.threads, 3u);
  EXPECT_EQ(c->log.format, "text");
  EXPECT_TRUE(c->ometria.allow_plain_http);
  EXPECT_EQ(c->server.timeouts.read, std::chrono::seconds(5));
}

TEST(Config, InvalidJsonIsAnError) {
  auto raw = RawConfig::parse("{\"server\": ", "bad.json");
  ASSERT_FALSE(raw);
  EXPECT_NE(raw.error().message.find("bad.json: invalid JSON"), std::string::npos);
  EXPECT_FALSE(RawConfig::parse("[1]", "a.json"));
  EXPECT_FALSE(RawConfig::from_file("/nonexistent/omt.json"));
}

TEST(Config, OverridesWinOverTheFile) {
  auto raw = RawConfig::parse(R"({"server": {"listen": "0.0.0.0:1", "threads": 4}, "log": {"level": "warn"}})");
  ASSERT_TRUE(raw);
  raw->set("server.listen", std::string("127.0.0.1:0"));
  raw->set("server.threads", std::int64_t{2});
  raw->set("mappings_dir", std::string("/m"));
  auto c = validate(*raw);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->server.port, 0);
  EXPECT_EQ(c->server.threads, 2u);
  EXPECT_EQ(c->log.level, "warn");
  EXPECT_EQ(c->mappings_dir, "/m");
}

TEST(Config, TheQueueBackendIsSqliteByDefaultOrPostgresWithAUrl) {
  auto c = validate_text("{}");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->queue.backend, "sqlite");
  EXPECT_TRUE(c->queue.url.empty());
  ::setenv("OMT_TEST_QUEUE_URL", "postgresql://omt:pw@db.internal/omt", 1);
  c = validate_text(R"({"queue": {"backend": "postgres", "url": {"env": "OMT_TEST_QUEUE_URL"}}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->queue.backend, "postgres");
  EXPECT_EQ(c->queue.url, "postgresql://omt:pw@db.internal/omt");
  c = validate_text(R"({"queue": {"backend": "postgres", "url": "host=db.internal dbname=omt"}})");
  ASSERT_TRUE(c) << c.error().message;
  ::unsetenv("OMT_TEST_QUEUE_URL");

  const std::pair<const char*, const char*> cases[] = {
      {R"({"queue": {"backend": "mysql"}})", "queue.backend"},
      {R"({"queue": {"backend": "postgres"}})", "queue.url: the postgres backend needs queue.url"},
      {R"({"queue": {"backend": "postgres", "url": "db.internal"}})", "queue.url: expected a postgresql:// URI"},
      {R"({"queue": {"url": "postgresql://db/omt"}})", "queue.url: queue.url is for queue.backend \"postgres\""},
      {R"({"queue": {"backend": "postgres", "url": {"env": "OMT_TEST_QUEUE_URL_UNSET"}}})", "queue.url"},
  };
  for (const auto& [text, message] : cases) {
    auto bad = validate_text(text);
    ASSERT_FALSE(bad) << text;
    EXPECT_EQ(bad.error().code, errc::invalid_config);
    EXPECT_NE(bad.error().message.find(message), std::string::npos) << text << " -> " << bad.error().message;
  }
}

}  // namespace
}  // namespace omt::config
