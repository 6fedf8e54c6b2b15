// What Ometria rejects after a 2xx (GET /v2/push/_errors): the store on SQLite and on PostgreSQL (each entry once
// across polls, only new occurrences counted, bounded, the match kept), the events (redacted line, counter), the
// engine polling the fake Ometria (documented shape: kept unmatched, counted once; a held key is not polled), and
// the real binary end to end: delivered records that the fake then rejects are kept, matched to their record ids,
// listed by `dead-letter list --ometria-errors` and shown in /health.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>

#include "child_process.hpp"
#include "cli_run.hpp"
#include "delivery_harness.hpp"
#include "http_client.hpp"
#include "log_capture.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/obs/ometria_errors_events.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"

namespace omt::test {
namespace {

using json = nlohmann::json;
using ometria::OmetriaError;
using ometria::RecordType;
using testing::FakeOmetria;
using testing::FakeOmetriaOptions;

const std::string kKey = "key-errors-secret";
const std::string kOtherKey = "key-other-secret";

OmetriaError documented(const std::string& message, const std::string& path = "root") {
  return OmetriaError{message, path, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
}

std::vector<delivery::SeenError> seen(const std::vector<OmetriaError>& errors) { return delivery::distinct_errors(errors); }

std::size_t total(const std::vector<delivery::SeenError>& fresh) {
  std::size_t n = 0;
  for (const auto& f : fresh) n += f.occurrences;
  return n;
}

// ---- the store ----

enum class Backend { sqlite, postgres };

// The store on each queue backend: a SQLite file, a database on the PostgreSQL server the tests start.
class OmetriaErrorStore : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgres) url_ = PostgresServer::shared().create_database();
  }
  // The test's queue (the same data each time), keeping at most `bound` errors.
  std::unique_ptr<queue::Queue> open(std::size_t bound = 10'000) {
    if (GetParam() == Backend::postgres) {
      queue::PostgresQueueOptions options;
      options.url = url_;
      options.max_ometria_errors = bound;
      auto q = queue::PostgresQueue::open(std::move(options));
      if (!q) throw std::runtime_error(q.error().message);
      return std::move(*q);
    }
    queue::SqliteQueueOptions options;
    options.path = dir_.file("queue.db");
    options.max_ometria_errors = bound;
    auto q = queue::SqliteQueue::open(options);
    if (!q) throw std::runtime_error(q.error().message);
    return std::move(*q);
  }

  testing::TempDir dir_;
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Backends, OmetriaErrorStore, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& tested) { return tested.param == Backend::sqlite ? "sqlite" : "postgres"; });

TEST_P(OmetriaErrorStore, EachEntryIsKeptOnceAcrossPollsAndOnlyNewOccurrencesCount) {
  auto queue = open();
  queue::OmetriaErrorLog& log = *queue->ometria_error_log();
  const auto a = documented("Invalid email", "root > email"), b = documented("Missing id");

  auto first = log.record_ometria_errors(kKey, seen({a, b, a}), 1000);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(total(*first), 3u);
  auto again = log.record_ometria_errors(kKey, seen({a, b, a}), 2000);  // the next poll lists the same
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  auto more = log.record_ometria_errors(kKey, seen({a, a, a, b}), 3000);  // one more "a"
  ASSERT_TRUE(more);
  ASSERT_EQ(more->size(), 1u);
  EXPECT_EQ(more->at(0).error, a);
  EXPECT_EQ(more->at(0).occurrences, 1u);
  auto other_key = log.record_ometria_errors(kOtherKey, seen({a}), 4000);  // the same text, another account
  ASSERT_TRUE(other_key);
  EXPECT_EQ(total(*other_key), 1u);

  auto listed = log.ometria_errors(0);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ(listed->at(0).api_key, kOtherKey) << "newest first";
  EXPECT_EQ(listed->at(1).error, a);
  EXPECT_EQ(listed->at(1).occurrences, 3u);
  EXPECT_EQ(listed->at(1).first_seen_at, 1000);
  EXPECT_EQ(listed->at(1).last_seen_at, 3000);
  EXPECT_EQ(listed->at(1).latest_new_at, 3000);
  EXPECT_EQ(listed->at(2).error, b);
  EXPECT_EQ(listed->at(2).latest_new_at, 1000);
  EXPECT_EQ(listed->at(2).last_seen_at, 3000);

  auto by_key = log.ometria_errors_by_key();
  ASSERT_TRUE(by_key);
  ASSERT_EQ(by_key->size(), 2u);
  const auto& ours = by_key->at(0).api_key == kKey ? by_key->at(0) : by_key->at(1);
  EXPECT_EQ(ours.errors, 4u);
  EXPECT_EQ(ours.latest_new_at, 3000);

  // Another process (the next run) recognises what this one kept.
  queue.reset();
  auto reopened = open();
  auto after_restart = reopened->ometria_error_log()->record_ometria_errors(kKey, seen({a, b, a}), 5000);
  ASSERT_TRUE(after_restart);
  EXPECT_TRUE(after_restart->empty());
}

TEST_P(OmetriaErrorStore, AMatchIsKeptOnceFoundAndTheLeastRecentlyListedGoBeyondTheBound) {
  auto opened = open(2);
  queue::OmetriaErrorLog& log = *opened->ometria_error_log();
  OmetriaError with_ids{"Bad", "root > lastname", "c-1", "r-1", "contact", "2026-01-01T00:00:00Z"};

  auto unmatched = seen({with_ids});
  ASSERT_TRUE(log.record_ometria_errors(kKey, unmatched, 1000));
  auto matched = seen({with_ids});
  matched[0].match = delivery::ErrorMatch{{"c-1"}, "r-1", "contact", 900};
  ASSERT_TRUE(log.record_ometria_errors(kKey, matched, 2000));
  auto listed = log.ometria_errors(10);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_TRUE(listed->at(0).match) << "filled in by the later poll";
  EXPECT_EQ(listed->at(0).match->record_ids, std::vector<std::string>{"c-1"});
  EXPECT_EQ(listed->at(0).match->request_id, "r-1");
  EXPECT_EQ(listed->at(0).match->pushed_at_unix_ms, 900);
  EXPECT_EQ(listed->at(0).error, with_ids);
  ASSERT_TRUE(log.record_ometria_errors(kKey, unmatched, 3000));  // a poll without the match keeps it
  EXPECT_TRUE(log.ometria_errors(10)->at(0).match);

  ASSERT_TRUE(log.record_ometria_errors(kKey, seen({documented("x")}), 4000));
  ASSERT_TRUE(log.record_ometria_errors(kKey, seen({documented("y")}), 5000));
  listed = log.ometria_errors(0);
  ASSERT_EQ(listed->size(), 2u) << "bounded";
  EXPECT_EQ(listed->at(0).error.message, "y");
  EXPECT_EQ(listed->at(1).error.message, "x");
  EXPECT_EQ(log.ometria_errors(1)->size(), 1u);
}

// ---- the events ----

TEST(OmetriaErrorEvents, AListedErrorIsOneRedactedLineAndCountedByKeyAndMatch) {
  obs::Registry metrics;
  obs::OmetriaErrorEvents events(metrics);
  LogCapture capture({"info", obs::LogFormat::json, false});
  obs::OmetriaErrorListed listed{kKey, "Invalid email ann@example.com", "root > email"};
  listed.record_id = "c-1";
  listed.occurrences = 2;
  listed.matched = true;
  listed.matched_request_id = "r-1";
  listed.matched_type = "contact";
  listed.matched_records = 1;
  listed.first_matched_record = "c-1";
  events.emit(listed);
  events.emit(obs::OmetriaErrorListed{kKey, "Missing id", ""});
  events.emit(obs::OmetriaErrorsPollFailed{kKey, "HTTP 500", "upstream said bob@example.com"});
  events.emit(obs::OmetriaErrorsPolled{kKey, 3, 1, 0});  // a debug line: not written at info
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 3u);
  const auto first = json::parse(lines[0]);
  const std::string fingerprint = obs::key_fingerprint(kKey);
  EXPECT_EQ(first["event"], "ometria_error_listed");
  EXPECT_EQ(first["key"], fingerprint);
  EXPECT_EQ(first["error_message"], "Invalid email <email>");
  EXPECT_EQ(first["matched"], true);
  EXPECT_EQ(first["occurrences"], 2);
  EXPECT_EQ(first["msg"], "delivery: Ometria rejected 2 times a record of key " + fingerprint +
                              " after accepting it: Invalid email <email> (at root > email); contact record c-1 of push "
                              "r-1 (see `ometria-transformer dead-letter list --ometria-errors`)");
  EXPECT_EQ(json::parse(lines[1])["msg"], "delivery: Ometria rejected a record of key " + fingerprint +
                                              " after accepting it: Missing id (at ?); not matched to a push of this run "
                                              "(see `ometria-transformer dead-letter list --ometria-errors`)");
  EXPECT_EQ(json::parse(lines[2])["msg"], "delivery: could not read Ometria's errors for key " + fingerprint +
                                              ": HTTP 500 (upstream said <email>); trying again at the next poll");
  EXPECT_TRUE(find_log_leaks(lines, Forbidden{{kKey}, {"ann@example.com", "bob@example.com"}, {}}).empty());
  const auto text = metrics.render_prometheus();
  EXPECT_NE(text.find("omt_ometria_errors_total{key=\"" + fingerprint + "\",matched=\"true\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("omt_ometria_errors_total{key=\"" + fingerprint + "\",matched=\"false\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("omt_ometria_errors_polls_total{outcome=\"failed\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("omt_ometria_errors_polls_total{outcome=\"ok\"} 1"), std::string::npos) << text;
}

// ---- the engine against the fake Ometria ----

class OmetriaErrorsEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOmetriaOptions options;
    options.keys = {kKey, kOtherKey};
    fake_ = std::make_unique<FakeOmetria>(std::move(options));
    queue_ = open_queue(dir_.file("queue.db"));
  }
  service::DeliveryOptions options() const {
    auto o = fast_options(fake_->url());
    o.errors_poll_interval = 50ms;
    return o;
  }
  net::SenderOptions sender_options() const {
    auto o = test_sender_options("");
    o.allow_plain_http = true;
    return o;
  }

  testing::TempDir dir_;
  std::unique_ptr<FakeOmetria> fake_;
  std::unique_ptr<queue::SqliteQueue> queue_;
};

TEST_F(OmetriaErrorsEngineTest, TheDocumentedShapeIsKeptUnmatchedAndCountedOnceHoweverOftenItIsListed) {
  fake_->reject_later(kKey + "/contact/2", "Invalid email address", "root > email");
  enqueue_records(*queue_, kKey, RecordType::contact, 5);
  DeliveryEngine engine(*queue_, sender_options(), options());
  ASSERT_TRUE(fake_->wait_for_records(5, kWait));
  ASSERT_TRUE(eventually([&] { return fake_->error_polls() >= 5; })) << "polled again and again";
  ASSERT_TRUE(eventually([&] { return !engine.service().ometria_errors().empty(); }));
  const auto status = engine.service().ometria_errors();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].key_fingerprint, obs::key_fingerprint(kKey));
  EXPECT_EQ(status[0].errors, 1u);
  EXPECT_GT(status[0].latest_new_at_unix_ms, 0);
  engine.stop(5s);
  auto kept = queue_->ometria_errors(0);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ(kept->at(0).error.message, "Invalid email address");
  EXPECT_EQ(kept->at(0).error.path, "root > email");
  EXPECT_FALSE(kept->at(0).match) << "the documented entry names no record";
  EXPECT_EQ(kept->at(0).occurrences, 1u);
  const auto metrics = engine.metrics().render_prometheus();
  EXPECT_NE(metrics.find("omt_ometria_errors_total{key=\"" + obs::key_fingerprint(kKey) + "\",matched=\"false\"} 1\n"),
            std::string::npos)
      << metrics;
  for (const auto& request : fake_->requests()) {
    if (request.method == "GET") {
      EXPECT_EQ(request.target, "/v2/push/_errors");
      EXPECT_EQ(request.api_key, kKey);
      EXPECT_EQ(request.content_type, "") << "a GET of the real client sends no body";
      EXPECT_EQ(request.body_bytes, 0u);
    }
  }
}

TEST_F(OmetriaErrorsEngineTest, AHeldKeyIsNotPolledAndZeroTurnsThePollOff) {
  const auto gets = [&](const std::string& key) {
    std::size_t n = 0;
    for (const auto& request : fake_->requests()) n += request.method == "GET" && request.api_key == key;
    return n;
  };
  fake_->set_key_status(kOtherKey, 401);
  enqueue_records(*queue_, kOtherKey, RecordType::contact, 3);
  auto o = options();
  o.errors_poll_interval = 300ms;  // the refused push (after a 20 ms linger) holds the key long before that
  o.errors_poll_keys = {kKey, kOtherKey};
  {
    DeliveryEngine engine(*queue_, sender_options(), o);
    ASSERT_TRUE(eventually([&] { return !engine.service().held_keys().empty(); }));
    ASSERT_TRUE(eventually([&] { return gets(kKey) >= 2; })) << "a configured key is polled without pushes";
    engine.stop(5s);
  }
  EXPECT_EQ(gets(kOtherKey), 0u) << "the held key's polls would be refused too";

  const auto before = gets(kKey);
  o.errors_poll_interval = 0ms;
  {
    DeliveryEngine engine(*queue_, sender_options(), o);
    std::this_thread::sleep_for(400ms);  // longer than a poll interval of the run before
    engine.stop(5s);
  }
  EXPECT_EQ(gets(kKey), before) << "0 turns the poll off";
}

TEST_F(OmetriaErrorsEngineTest, PollsTakeTokensOfTheKeysRateLimitLikePushes) {
  auto o = options();
  o.errors_poll_interval = 5ms;  // asks far more often than the key's budget allows
  o.errors_poll_keys = {kKey};
  o.rate_limit.requests_per_second = 4;
  o.rate_limit.burst = 1;
  const auto started = std::chrono::steady_clock::now();
  {
    DeliveryEngine engine(*queue_, sender_options(), o);
    ASSERT_TRUE(eventually([&] { return fake_->error_polls() >= 2; }));
    std::this_thread::sleep_for(500ms);
    engine.stop(5s);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // A token bucket of 4/s and burst 1 lets at most 1 + 4 per second through, whatever the schedule asks.
  EXPECT_LE(static_cast<double>(fake_->error_polls()), 1 + 4 * seconds) << seconds << " s";
}

// ---- the real binary ----

TEST_F(OmetriaErrorsEngineTest, TheServiceKeepsWhatOmetriaRejectsMatchedToItsRecordsForTheCliAndHealth) {
  fake_->list_errors_with_ids(true);
  const std::string rejected = kKey + "/contact/3";
  fake_->reject_later(rejected, "Invalid email address carl@example.com", "root > email");
  enqueue_records(*queue_, kKey, RecordType::contact, 10);
  queue_.reset();  // the binary opens it next
  const std::string queue_path = dir_.file("queue.db");
  const json config = {
      {"server", {{"listen", "127.0.0.1:0"}, {"threads", 2}, {"shutdown_deadline", "5s"}}},
      {"queue", {{"path", queue_path}, {"durability", "normal"}}},
      {"ometria", {{"endpoint", fake_->url()}, {"allow_plain_http", true}}},
      {"delivery", {{"requests_per_second", 0}, {"linger", "20ms"}, {"errors_poll_interval", "100ms"}}},
      {"sources", json::array({{{"name", "shop"}, {"write_key", "wk-1"}, {"api_key", kKey}}})},
  };
  const std::string config_path = dir_.file("config.json");
  std::ofstream(config_path) << config.dump(2);

  ChildProcess child(OMT_BINARY, std::vector<std::string>{"serve", "--config", config_path});
  const auto line = child.wait_for_line("listening on", 10s);
  ASSERT_TRUE(line) << child.output();
  HttpClient client("127.0.0.1", port_from_listening_line(*line));
  ASSERT_TRUE(fake_->wait_for_records(10, kWait)) << child.output();
  const std::string fingerprint = obs::key_fingerprint(kKey);
  HttpResponse health;
  ASSERT_TRUE(eventually([&] {
    health = client.get("/health");
    return health.body.find(fingerprint) != std::string::npos;
  })) << health.body << child.output();
  const auto polls = fake_->error_polls();
  ASSERT_TRUE(eventually([&] { return fake_->error_polls() >= polls + 3; })) << "listed again by later polls";

  EXPECT_EQ(health.status, 200) << "errors of the records are reported, not a failed service";
  const auto checks = json::parse(health.body)["checks"];
  EXPECT_EQ(checks["ometria_errors"]["ok"], true);
  const std::string detail = checks["ometria_errors"]["detail"];
  EXPECT_NE(detail.find(fingerprint + " (1 listed, the latest new at "), std::string::npos) << detail;
  EXPECT_NE(detail.find("; source shop)"), std::string::npos) << detail;
  EXPECT_EQ(health.body.find(kKey), std::string::npos) << "never the key itself";

  const auto metrics = client.get("/metrics").body;
  EXPECT_NE(metrics.find("omt_ometria_errors_total{key=\"" + fingerprint + "\",matched=\"true\"} 1\n"), std::string::npos)
      << metrics;

  // The operator's view, from another process beside the running service.
  const auto listed = run("dead-letter list --ometria-errors --queue " + queue_path);
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  const auto out = json::parse(listed.out);
  ASSERT_EQ(out["count"], 1) << listed.out;
  const auto& entry = out["ometria_errors"][0];
  EXPECT_EQ(entry["key"], fingerprint);
  EXPECT_EQ(entry["error_message"], "Invalid email address carl@example.com");
  EXPECT_EQ(entry["error_path"], "root > email");
  EXPECT_EQ(entry["record_id"], rejected);
  EXPECT_EQ(entry["occurrences"], 1);
  ASSERT_TRUE(entry["matched"].is_object()) << listed.out;
  EXPECT_EQ(entry["matched"]["record_ids"], json::array({rejected}));
  EXPECT_EQ(entry["matched"]["type"], "contact");
  std::string pushed_in;
  for (const auto& r : fake_->records()) {
    if (r.id == rejected) pushed_in = "fake-" + std::to_string(r.push);
  }
  EXPECT_EQ(entry["matched"]["request_id"], pushed_in);
  EXPECT_EQ(entry["request_id"], pushed_in);
  EXPECT_EQ(run("dead-letter list --ometria-errors --id 1 --queue " + queue_path).exit_code, 2);

  child.signal(SIGTERM);
  EXPECT_EQ(child.wait_exit(10s), 0) << child.output();
  const std::string log = child.output();
  EXPECT_NE(log.find("Ometria rejected a record of key " + fingerprint + " after accepting it: Invalid email address "
                     "<email> (at root > email); contact record " + rejected),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("carl@example.com"), std::string::npos) << "the log is redacted";
  EXPECT_EQ(log.find(kKey + "\""), std::string::npos);
}

}  // namespace
}  // namespace omt::test
