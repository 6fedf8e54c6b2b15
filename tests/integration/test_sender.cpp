// The HTTPS sender against the fake Ometria on 127.0.0.1 port 0: answers, failures, timeouts, connection reuse,
// the in-flight cap, TLS verification (trusted test CA, unknown CA, host-name mismatch) and the http:// rule.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include "fake_ometria.hpp"
#include "http_client.hpp"
#include "omt/net/https_sender.hpp"
#include "omt/obs/log.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::NetworkError;
using omt::delivery::PushRequest;
using PushResult = omt::delivery::PushOutcome;
using omt::net::SenderOptions;
using omt::testing::FakeOmetria;
using omt::testing::FakeOmetriaOptions;
using omt::testing::ScriptedAnswer;

constexpr auto kWait = 10s;  // upper bound for anything expected to happen
const std::string kKey = "key-one-secret";
const std::string kBody = R"([{"@type":"contact","id":"c1","email":"ann@example.com"},{"@type":"contact","id":"c2"}])";

// An io_context on its own thread for the sender under test.
class SenderHarness {
 public:
  explicit SenderHarness(SenderOptions options) {
    sender_ = omt::net::make_https_sender(io_, std::move(options));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SenderHarness() {
    sender_.reset();
    work_.reset();
    thread_.join();
  }

  PushResult send(const std::string& url, const std::string& key = kKey, const std::string& body = kBody) {
    auto future = send_async(url, key, body);
    if (future.wait_for(kWait) != std::future_status::ready) {
      ADD_FAILURE() << "no completion within " << kWait.count() << " s";
      return PushResult::failure(NetworkError::shutdown, "test gave up");
    }
    return future.get();
  }

  std::future<PushResult> send_async(const std::string& url, const std::string& key = kKey,
                                     const std::string& body = kBody) {
    auto promise = std::make_shared<std::promise<PushResult>>();
    auto future = promise->get_future();
    sender_->send(PushRequest{url, key, body}, [promise](PushResult r) { promise->set_value(std::move(r)); });
    return future;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<omt::delivery::Sender> sender_;
  std::thread thread_;
};

SenderOptions plain_options() {
  SenderOptions options;
  options.allow_plain_http = true;
  options.connect_timeout = 2s;
  options.handshake_timeout = 2s;
  options.response_timeout = 5s;
  return options;
}

FakeOmetriaOptions fake_options() {
  FakeOmetriaOptions options;
  options.keys = {kKey, "key-two-secret"};
  return options;
}

std::string expect_network_error(const PushResult& result, NetworkError kind) {
  EXPECT_FALSE(result.has_answer()) << "unexpected HTTP " << result.answer.status;
  if (result.network_error) {
    EXPECT_EQ(*result.network_error, kind) << omt::delivery::to_string(*result.network_error) << ": " << result.error_detail;
  }
  return result.error_detail;
}

TEST(HttpsSender, AcceptedPushIsParsedAndRecorded) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());

  const PushResult result = harness.send(fake.url());
  ASSERT_TRUE(result.has_answer()) << result.error_detail;
  EXPECT_EQ(result.answer.status, 202);
  const auto body = nlohmann::json::parse(result.answer.body);
  EXPECT_EQ(body["status"], "OK");
  EXPECT_EQ(body["accepted"], 2);
  EXPECT_EQ(body["rejected"], 0);
  EXPECT_EQ(body["request_id"], "fake-1");
  EXPECT_FALSE(result.answer.retry_after);

  const auto records = fake.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].api_key, kKey);
  EXPECT_EQ(records[0].type, "contact");
  EXPECT_EQ(records[0].id, "c1");
  EXPECT_EQ(records[1].id, "c2");
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v2/push");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].user_agent, omt::net::default_user_agent());
  EXPECT_TRUE(requests[0].user_agent.starts_with("ometria-transformer/"));
}

TEST(HttpsSender, TheFakeCountsWhatItAcceptedForBenchmarks) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  ASSERT_TRUE(harness.send(fake.url()).has_answer());
  // bench/load/pipeline.sh reads this instead of counting the fake's output.
  omt::test::HttpClient client("127.0.0.1", fake.port());
  const auto stats = client.get("/_fake/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_EQ(nlohmann::json::parse(stats.body), nlohmann::json::parse(R"({"records":2,"pushes":1,"requests":1})"));
}

TEST(HttpsSender, TooManyRequestsSurfacesRetryAfterAndQueueHeaders) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  ScriptedAnswer busy = ScriptedAnswer::with_status(429, "7");
  busy.headers.emplace_back("X-QueueSize-Remaining", "0");
  busy.headers.emplace_back("X-QueueSize-Limit", "50000");
  fake.script(busy);
  fake.script(ScriptedAnswer::with_status(429));

  const PushResult first = harness.send(fake.url());
  ASSERT_TRUE(first.has_answer()) << first.error_detail;
  EXPECT_EQ(first.answer.status, 429);
  EXPECT_EQ(first.answer.retry_after, "7");
  EXPECT_EQ(first.answer.queue_size_remaining, "0");
  EXPECT_EQ(first.answer.queue_size_limit, "50000");

  const PushResult second = harness.send(fake.url());
  ASSERT_TRUE(second.has_answer()) << second.error_detail;
  EXPECT_EQ(second.answer.status, 429);
  EXPECT_FALSE(second.answer.retry_after);
  EXPECT_FALSE(second.answer.queue_size_remaining);
  EXPECT_EQ(fake.record_count(), 0u);  // a refused push is not received
}

TEST(HttpsSender, QueueSizeHeadersOnAcceptedPush) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  fake.set_extra_headers({{"X-QueueSize-Remaining", "1234"}, {"X-QueueSize-Limit", "50000"}});
  const PushResult result = harness.send(fake.url());
  ASSERT_TRUE(result.has_answer()) << result.error_detail;
  EXPECT_EQ(result.answer.status, 202);
  EXPECT_EQ(result.answer.queue_size_remaining, "1234");
  EXPECT_EQ(result.answer.queue_size_limit, "50000");
}

TEST(HttpsSender, ServerErrorIsAnAnswer) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  fake.script(ScriptedAnswer::with_status(500));
  const PushResult result = harness.send(fake.url());
  ASSERT_TRUE(result.has_answer()) << result.error_detail;
  EXPECT_EQ(result.answer.status, 500);
  // The connection survives an error answer: the next push reuses it.
  EXPECT_EQ(harness.send(fake.url()).answer.status, 202);
  EXPECT_EQ(fake.connections_accepted(), 1u);
}

TEST(HttpsSender, UnknownAndForbiddenKeys) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  EXPECT_EQ(harness.send(fake.url(), "not-a-configured-key").answer.status, 401);
  fake.set_key_status("key-two-secret", 403);
  EXPECT_EQ(harness.send(fake.url(), "key-two-secret").answer.status, 403);
  EXPECT_EQ(harness.send(fake.url(), kKey).answer.status, 202);  // other keys keep working
  EXPECT_EQ(fake.record_count(), 2u);
}

TEST(HttpsSender, SlowAnswerHitsTheResponseTimeout) {
  FakeOmetria fake(fake_options());
  SenderOptions options = plain_options();
  options.response_timeout = 300ms;
  SenderHarness harness(options);
  fake.script(ScriptedAnswer::slow(30s));
  const auto started = std::chrono::steady_clock::now();
  const std::string detail = expect_network_error(harness.send(fake.url()), NetworkError::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(detail.find("300 ms"), std::string::npos) << detail;
}

TEST(HttpsSender, DroppedConnectionIsANetworkError) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  fake.script(ScriptedAnswer::dropped());
  expect_network_error(harness.send(fake.url()), NetworkError::reset);
  EXPECT_EQ(fake.record_count(), 0u);
}

TEST(HttpsSender, DropOnAReusedConnectionIsRetriedOnceOnANewOne) {
  // An idle keep-alive connection the server closed looks exactly like this: one fresh try is the cure.
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  ASSERT_EQ(harness.send(fake.url()).answer.status, 202);
  fake.script(ScriptedAnswer::dropped());
  const PushResult result = harness.send(fake.url());
  ASSERT_TRUE(result.has_answer()) << result.error_detail;
  EXPECT_EQ(result.answer.status, 202);
  EXPECT_EQ(fake.connections_accepted(), 2u);
  EXPECT_EQ(fake.request_count(), 3u);

  // Two drops in a row: the one retry is spent, the caller sees the failure.
  fake.script(ScriptedAnswer::dropped());
  fake.script(ScriptedAnswer::dropped());
  expect_network_error(harness.send(fake.url()), NetworkError::reset);
}

TEST(HttpsSender, KeepAliveReusesOneConnection) {
  FakeOmetria fake(fake_options());
  SenderHarness harness(plain_options());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(harness.send(fake.url()).answer.status, 202);
  EXPECT_EQ(fake.connections_accepted(), 1u);
  EXPECT_EQ(fake.record_count(), 10u);
}

TEST(HttpsSender, InFlightCapHoldsBackExtraPushes) {
  FakeOmetria fake(fake_options());
  SenderOptions options = plain_options();
  options.max_in_flight = 2;
  SenderHarness harness(options);
  fake.hold_answers();
  std::vector<std::future<PushResult>> results;
  for (int i = 0; i < 6; ++i) results.push_back(harness.send_async(fake.url()));
  ASSERT_TRUE(fake.wait_for_held(2, kWait));
  // Bounded check that a third push does not reach the server while two are unanswered.
  EXPECT_FALSE(fake.wait_for_held(3, 300ms));
  fake.release_answers();
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(f.get().answer.status, 202);
  }
  EXPECT_EQ(fake.max_concurrent_requests(), 2u);
  EXPECT_EQ(fake.record_count(), 12u);
  EXPECT_LE(fake.connections_accepted(), 2u);
}

TEST(HttpsSender, WaitingListOverflowIsRefused) {
  FakeOmetria fake(fake_options());
  SenderOptions options = plain_options();
  options.max_in_flight = 1;
  options.max_waiting = 1;
  SenderHarness harness(options);
  fake.hold_answers();
  auto first = harness.send_async(fake.url());
  ASSERT_TRUE(fake.wait_for_held(1, kWait));
  auto second = harness.send_async(fake.url());  // waits for the slot
  const PushResult third = harness.send(fake.url());
  expect_network_error(third, NetworkError::overloaded);
  fake.release_answers();
  ASSERT_EQ(first.wait_for(kWait), std::future_status::ready);
  ASSERT_EQ(second.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(first.get().answer.status, 202);
  EXPECT_EQ(second.get().answer.status, 202);
}

TEST(HttpsSender, LargeAnswerBodyIsCapped) {
  FakeOmetria fake(fake_options());
  SenderOptions options = plain_options();
  options.max_response_body = 1024;
  SenderHarness harness(options);
  ScriptedAnswer big = ScriptedAnswer::with_status(500);
  big.body = std::string(100 * 1024, 'x');
  fake.script(big);
  const PushResult result = harness.send(fake.url());
  ASSERT_TRUE(result.has_answer()) << result.error_detail;
  EXPECT_EQ(result.answer.status, 500);
  EXPECT_TRUE(result.answer.body_truncated);
  EXPECT_LE(result.answer.body.size(), 1024u);
  EXPECT_EQ(harness.send(fake.url()).answer.status, 202);  // a new connection replaces the spoiled one
}

TEST(HttpsSender, ConnectionRefusedIsAConnectError) {
  unsigned short port;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }  // closed: nothing listens on the port any more
  SenderHarness harness(plain_options());
  expect_network_error(harness.send("http://127.0.0.1:" + std::to_string(port) + "/v2/push"), NetworkError::connect);
}

TEST(HttpsSender, SilentServerHitsTheHandshakeTimeout) {
  // A listening socket nobody accepts from: the kernel completes TCP connects, nothing ever answers TLS.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  SenderOptions options = plain_options();
  options.handshake_timeout = 300ms;
  SenderHarness harness(options);
  const std::string detail = expect_network_error(
      harness.send("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/v2/push"),
      NetworkError::timeout);
  EXPECT_NE(detail.find("handshake"), std::string::npos) << detail;
}

TEST(HttpsSender, PlainHttpIsRefusedUnlessAllowed) {
  FakeOmetria fake(fake_options());
  SenderOptions options = plain_options();
  options.allow_plain_http = false;
  SenderHarness harness(options);
  expect_network_error(harness.send(fake.url()), NetworkError::invalid_request);
  expect_network_error(harness.send("ftp://127.0.0.1/v2/push"), NetworkError::invalid_request);
  expect_network_error(harness.send("https://"), NetworkError::invalid_request);
  EXPECT_EQ(fake.connections_accepted(), 0u);
}

TEST(HttpsSender, NeitherKeyNorBodyIsLogged) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  {
    FakeOmetria fake(fake_options());
    SenderHarness harness(plain_options());
    fake.script(ScriptedAnswer::dropped());
    harness.send(fake.url());
    fake.script(ScriptedAnswer::with_status(400));
    harness.send(fake.url());
    harness.send(fake.url());
  }
  spdlog::set_default_logger(previous);
  const std::string text = captured.str();
  EXPECT_FALSE(text.empty());  // the sender did log at debug level
  EXPECT_EQ(text.find(kKey), std::string::npos) << text;
  EXPECT_EQ(text.find("ann@example.com"), std::string::npos) << text;
  EXPECT_NE(text.find(omt::obs::key_fingerprint(kKey)), std::string::npos) << text;
}

// ---- TLS ------------------------------------------------------------------------------------------------

class HttpsSenderTls : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = omt::testing::make_test_pki(dir_.path()); }

  FakeOmetriaOptions tls_fake(const std::string& cert, const std::string& key) const {
    FakeOmetriaOptions options = fake_options();
    options.tls = true;
    options.cert_file = cert;
    options.key_file = key;
    return options;
  }
  SenderOptions trusting_test_ca() const {
    SenderOptions options = plain_options();
    options.allow_plain_http = false;
    options.extra_ca_file = pki_.ca_file;
    return options;
  }

  omt::testing::TempDir dir_;
  omt::testing::TestPki pki_;
};

TEST_F(HttpsSenderTls, TrustedTestCaWorksWithSniAndReuse) {
  FakeOmetria fake(tls_fake(pki_.server_cert_file, pki_.server_key_file));
  SenderHarness harness(trusting_test_ca());
  const std::string by_name = "https://localhost:" + std::to_string(fake.port()) + "/v2/push";
  for (int i = 0; i < 3; ++i) {
    const PushResult result = harness.send(by_name);
    ASSERT_TRUE(result.has_answer()) << result.error_detail;
    EXPECT_EQ(result.answer.status, 202);
  }
  EXPECT_EQ(fake.connections_accepted(), 1u);
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].server_name, "localhost");

  const PushResult by_ip = harness.send(fake.url());  // the certificate also names 127.0.0.1
  ASSERT_TRUE(by_ip.has_answer()) << by_ip.error_detail;
  EXPECT_EQ(by_ip.answer.status, 202);
  EXPECT_EQ(fake.requests().back().server_name, "");  // no SNI for an IP address (RFC 6066)
}

TEST_F(HttpsSenderTls, SystemStoreAloneDoesNotTrustTheTestCa) {
  FakeOmetria fake(tls_fake(pki_.server_cert_file, pki_.server_key_file));
  SenderOptions options = trusting_test_ca();
  options.extra_ca_file.clear();
  SenderHarness harness(options);
  expect_network_error(harness.send(fake.url()), NetworkError::certificate);
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST_F(HttpsSenderTls, CertificateFromAnUnknownCaIsRefused) {
  FakeOmetria fake(tls_fake(pki_.untrusted_cert_file, pki_.untrusted_key_file));
  SenderHarness harness(trusting_test_ca());
  const std::string detail = expect_network_error(harness.send(fake.url()), NetworkError::certificate);
  EXPECT_NE(detail.find("issuer"), std::string::npos) << detail;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST_F(HttpsSenderTls, HostNameMismatchIsRefused) {
  FakeOmetria fake(tls_fake(pki_.wrong_host_cert_file, pki_.wrong_host_key_file));
  SenderHarness harness(trusting_test_ca());
  std::string detail = expect_network_error(harness.send(fake.url()), NetworkError::certificate);
  EXPECT_NE(detail.find("IP address mismatch"), std::string::npos) << detail;
  detail = expect_network_error(harness.send("https://localhost:" + std::to_string(fake.port()) + "/v2/push"),
                                NetworkError::certificate);
  EXPECT_NE(detail.find("hostname mismatch"), std::string::npos) << detail;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST_F(HttpsSenderTls, MissingCaFileIsAStartUpError) {
  boost::asio::io_context io;
  SenderOptions options;
  options.extra_ca_file = dir_.file("does-not-exist.pem");
  EXPECT_THROW(omt::net::make_https_sender(io, options), std::runtime_error);
}

}  // namespace
