// Logging: redaction of secrets and PII (obs::redact), the text and JSON line formats, the level from flags,
// config and OMT_LOG_LEVEL, and the server's own logs at trace level scanned for the API key, e-mail addresses
// and phone numbers of the events it served.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "log_capture.hpp"
#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "running_binary.hpp"
#include "test_server.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string redacted(std::string_view text) { return obs::redact(text, /*keep_pii=*/false); }

// ---- e-mail addresses ----

TEST(Redact, EmailAddressesInAnyCommonForm) {
  EXPECT_EQ(redacted("from ann@example.com today"), "from <email> today");
  EXPECT_EQ(redacted("Ann.Lee+promo@Mail.Example.co.uk"), "<email>");
  EXPECT_EQ(redacted("o'neil_b-2@sub-domain.example"), "<email>");
  EXPECT_EQ(redacted(R"({"email":"ann@example.com"})"), R"({"email":"<email>"})");
  EXPECT_EQ(redacted("<ann@example.com>, bob@example.org."), "<<email>>, <email>.");
  EXPECT_EQ(redacted("josé@exämple.de"), "<email>");                   // UTF-8 local part and domain
  EXPECT_EQ(redacted("/v1/x?email=ann.lee%40example.com&a=1"), "/v1/x?email=<email>&a=1");  // URL-encoded '@'
  EXPECT_EQ(redacted("ann%2Bpromo%40example.com"), "<email>");
  EXPECT_EQ(redacted("ann@localhost"), "<email>");
}

TEST(Redact, AnEmailWithDigitsIsOneEmailNotANameAPhoneAndADomain) {
  // Digits in the local part must not split the address: nothing of it may remain.
  EXPECT_EQ(redacted("jane.doe.19851231@example.com"), "<email>");
  EXPECT_EQ(redacted("+447700900123@sms.example.com"), "<email>");
}

TEST(Redact, AtSignsThatAreNotAddressesStay) {
  EXPECT_EQ(redacted("@handle and a @ b"), "@handle and a @ b");
  EXPECT_EQ(redacted("price @ 3"), "price @ 3");
}

// ---- phone numbers ----

TEST(Redact, PhoneNumbersInAnyCommonLayout) {
  for (const char* phone : {"+447700900123", "+44 7700 900123", "+44 (0)7700 900123", "07700 900123", "07700-900-123",
                            "(555) 201-7788", "555.201.7788", "+1-202-555-0147", "+1 (202) 555-0147", "0044 20 7946 0958",
                            "020/7946/0958", "2025550147", "+33 6 12 34 56 78", "+49 30  1234567"}) {
    EXPECT_EQ(redacted(phone), "<phone>") << phone;
    EXPECT_EQ(redacted(std::string("tel:") + phone + ", ok"), "tel:<phone>, ok") << phone;
    EXPECT_EQ(redacted(std::string(R"({"phone":")") + phone + R"("})"), R"({"phone":"<phone>"})") << phone;
  }
}

TEST(Redact, ShortNumbersStay) {
  EXPECT_EQ(redacted("HTTP 404 after 1500 ms on port 9090"), "HTTP 404 after 1500 ms on port 9090");
  EXPECT_EQ(redacted("order 123456, line 3"), "order 123456, line 3");
  EXPECT_EQ(redacted("127.0.0.1:9090"), "127.0.0.1:9090");
  EXPECT_EQ(redacted("12:34:56"), "12:34:56");
}

TEST(Redact, SeparatorsAroundAPhoneAreKept) {
  EXPECT_EQ(redacted("call 555-201-7788 now"), "call <phone> now");
  EXPECT_EQ(redacted("a 07700 900123. b"), "a <phone>. b");
}

// ---- secrets: always, whatever the PII switch ----

TEST(Redact, ValuesOfSecretNamedFieldsAreMaskedEvenWithPiiKept) {
  for (const bool keep_pii : {false, true}) {
    EXPECT_EQ(obs::redact(R"({"Config":{"apiKey":"k-123"}})", keep_pii), R"({"Config":{"apiKey":"<secret>"}})");
    EXPECT_EQ(obs::redact(R"({"headers":{"X-Ometria-Auth":"k-123","Content-Type":"application/json"}})", keep_pii),
              R"({"headers":{"X-Ometria-Auth":"<secret>","Content-Type":"application/json"}})");
    EXPECT_EQ(obs::redact("Authorization: Basic dXNlcjpwYXNz", keep_pii), "Authorization: <secret>");
    EXPECT_EQ(obs::redact("authorization: Bearer abc.def, next", keep_pii), "authorization: <secret>, next");
    EXPECT_EQ(obs::redact("/v1/webhook?token=s3cr3t&x=1", keep_pii), "/v1/webhook?token=<secret>&x=1");
    EXPECT_EQ(obs::redact("api_key = abc, next", keep_pii), "api_key = <secret>, next");
    EXPECT_EQ(obs::redact("writeKey:'wk' password=pw", keep_pii), "writeKey:'<secret>' password=<secret>");
    EXPECT_EQ(obs::redact(R"(body \"apiKey\":\"k-123\")", keep_pii), R"(body \"apiKey\":\"<secret>\")");
  }
}

TEST(Redact, SecretsHoldingDigitsOrAtSignsAreStillOneSecret) {
  EXPECT_EQ(redacted(R"("apiKey":"a@b.c-12345678")"), R"("apiKey":"<secret>")");
}

TEST(AnswerExcerpt, RedactedWhateverLogPiiSaysAndOnOneLine) {
  LogCapture capture({"info", obs::LogFormat::text, /*log_pii=*/true});
  EXPECT_EQ(obs::answer_excerpt("{\"detail\": \"ann@example.com:\r\n\t bad phone +44 7700 900123\",\n \"apiKey\": \"k-1\"}"),
            R"({"detail": "<email>: bad phone <phone>", "apiKey": "<secret>"})");
  EXPECT_EQ(obs::answer_excerpt("  \n"), "");
}

TEST(AnswerExcerpt, CutToItsBoundNeverInsideACharacterWithTheCutNoted) {
  EXPECT_EQ(obs::answer_excerpt(std::string(10, 'x'), 10), std::string(10, 'x'));
  EXPECT_EQ(obs::answer_excerpt(std::string(11, 'x'), 10), std::string(10, 'x') + "... (cut; 11 bytes in all)");
  // "é" is two bytes: a cut at 4 would split the second one.
  EXPECT_EQ(obs::answer_excerpt("abc\xc3\xa9\xc3\xa9", 4), "abc... (cut; 7 bytes in all)");
  EXPECT_EQ(obs::answer_excerpt(std::string(5000, 'y')).size(), 1024 + std::string("... (cut; 5000 bytes in all)").size());
}

TEST(Redact, KeepPiiLeavesEmailsAndPhonesAlone) {
  EXPECT_EQ(obs::redact("ann@example.com +44 7700 900123", true), "ann@example.com +44 7700 900123");
}

TEST(Redact, PlainTextIsUnchanged) {
  for (const char* text : {"", "listening on 0.0.0.0:9090 (2 threads)", "stopped accepting; waiting up to 10000 ms",
                           "a{b}c \"quoted\" \\ back", "author: Ann"}) {
    EXPECT_EQ(redacted(text), text);
  }
}

TEST(Redact, RedactPiiFollowsTheLogPiiSwitch) {
  {
    LogCapture capture({"info", obs::LogFormat::text, /*log_pii=*/true});
    EXPECT_EQ(obs::redact_pii("ann@example.com apiKey=k"), "ann@example.com apiKey=<secret>");
  }
  LogCapture capture({"info", obs::LogFormat::text, /*log_pii=*/false});
  EXPECT_EQ(obs::redact_pii("ann@example.com apiKey=k"), "<email> apiKey=<secret>");
}

// ---- line formats and levels ----

TEST(LogFormat, JsonLinesAreValidJsonWhateverTheMessageHolds) {
  LogCapture capture({"trace", obs::LogFormat::json, false});
  const std::vector<std::string> messages = {
      "plain",
      R"(quotes " and backslashes \ and \" both)",
      std::string("control \x01\x02\x1f, newline\nand tab\t and NUL ") + '\0' + " end",
      "UTF-8 stays: caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
      "invalid UTF-8: \xC3 \xFF \xED\xA0\x80 \xF4\x90\x80\x80 end",
      R"({"looks":"like json"})",
  };
  for (const auto& m : messages) spdlog::warn("{}", m);
  spdlog::info("at {}", "info");
  spdlog::trace("at trace");
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), messages.size() + 2);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(json::accept(lines[i])) << lines[i];
    const json line = json::parse(lines[i]);
    ASSERT_EQ(line.size(), 3u) << lines[i];
    EXPECT_TRUE(line["ts"].get<std::string>().ends_with("Z"));
    EXPECT_EQ(line["ts"].get<std::string>().size(), std::string("2024-01-02T03:04:05.678Z").size());
    if (i < messages.size()) {
      EXPECT_EQ(line["level"], "warning");
    }
  }
  EXPECT_EQ(json::parse(lines[0])["msg"], "plain");
  EXPECT_EQ(json::parse(lines[1])["msg"], messages[1]);
  EXPECT_EQ(json::parse(lines[2])["msg"], messages[2]);  // control characters and NUL round-trip
  EXPECT_EQ(json::parse(lines[3])["msg"], messages[3]);
  EXPECT_EQ(json::parse(lines[4])["msg"], "invalid UTF-8: \xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(json::parse(lines[6]), json({{"ts", json::parse(lines[6])["ts"]}, {"level", "info"}, {"msg", "at info"}}));
  EXPECT_EQ(json::parse(lines[7])["level"], "trace");
}

TEST(LogFormat, ANamedEventAddsItsNameAndFieldsToJsonLinesOnly) {
  obs::EventFields fields;
  fields.text("key", "key:0123abcd").number("records", std::uint64_t{100}).number("status", 200)
      .flag("held", false).user_text("detail", "refused ann@example.com");
  {
    LogCapture capture({"info", obs::LogFormat::json, false});
    obs::emit_line(spdlog::level::warn, "push_failed", fields, "push failed");
    spdlog::info("a plain line after it");
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    const json line = json::parse(lines[0]);
    EXPECT_EQ(line["msg"], "push failed");
    EXPECT_EQ(line["event"], "push_failed");
    EXPECT_EQ(line["key"], "key:0123abcd");
    EXPECT_EQ(line["records"], 100);
    EXPECT_EQ(line["status"], 200);
    EXPECT_EQ(line["held"], false);
    EXPECT_EQ(line["detail"], "refused <email>");  // user text is redacted where the field is made
    EXPECT_EQ(json::parse(lines[1]).size(), 3u);  // the event's members do not leak into the next line
  }
  {
    LogCapture capture({"info", obs::LogFormat::text, false});
    obs::emit_line(spdlog::level::warn, "push_failed", fields, "push failed");
    obs::emit_line(spdlog::level::debug, "push_failed", fields, "below the level");
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].ends_with(" warning push failed")) << lines[0];
  }
}

TEST(LogFormat, TextLinesStayOneLineEach) {
  LogCapture capture({"info", obs::LogFormat::text, false});
  spdlog::error("forged?\n2024-01-01T00:00:00.000Z info fake line\r\x01");
  spdlog::debug("below the level");
  const auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].ends_with(" error forged?\\n2024-01-01T00:00:00.000Z info fake line\\r\\x01")) << lines[0];
  EXPECT_EQ(lines[0][4], '-');
  EXPECT_EQ(lines[0].find('T'), 10u);
}

TEST(LogFormat, LevelNames) {
  EXPECT_EQ(obs::parse_log_level("trace"), spdlog::level::trace);
  EXPECT_EQ(obs::parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(obs::parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(obs::parse_log_level("off"), spdlog::level::off);
  EXPECT_FALSE(obs::parse_log_level("DEBUG"));
  EXPECT_FALSE(obs::parse_log_level("verbose"));
}

// ---- the binary's flags and environment ----

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(LogFlags, LogFormatJsonMakesEveryStartUpAndAccessLineJson) {
  RunningBinary server({"--log-format", "json", "--log-level", "debug"});
  HttpClient client("127.0.0.1", server.port, 5s);
  EXPECT_EQ(client.get("/health?email=ann%40example.com").status, 200);
  const auto access = server.child.wait_for_line("GET /health", 5s);
  ASSERT_TRUE(access) << server.child.output();
  EXPECT_NE(access->find("<email>"), std::string::npos) << *access;
  server.child.signal(SIGTERM);
  ASSERT_EQ(server.child.wait_exit(10s), 0);
  for (const auto& line : lines_of(server.child.output())) {
    EXPECT_TRUE(json::accept(line)) << line;
  }
}

TEST(LogFlags, OmtLogLevelSetsTheLevelAndTheFlagWinsOverIt) {
  {
    ChildProcess child(OMT_BINARY, {"serve", "--listen", "127.0.0.1:0", "--threads", "1"}, {"OMT_LOG_LEVEL=debug"});
    const auto listening = child.wait_for_line("listening on", 10s);
    ASSERT_TRUE(listening) << child.output();
    HttpClient("127.0.0.1", port_from_listening_line(*listening), 5s).get("/health");
    EXPECT_TRUE(child.wait_for_line("GET /health -> 200", 5s)) << child.output();
  }
  {
    ChildProcess child(OMT_BINARY, {"serve", "--listen", "127.0.0.1:0", "--threads", "1", "--log-level", "info"},
                       {"OMT_LOG_LEVEL=debug"});
    const auto listening = child.wait_for_line("listening on", 10s);
    ASSERT_TRUE(listening) << child.output();
    HttpClient("127.0.0.1", port_from_listening_line(*listening), 5s).get("/health");
    child.signal(SIGTERM);
    ASSERT_EQ(child.wait_exit(10s), 0);
    EXPECT_EQ(child.output().find("GET /health"), std::string::npos) << child.output();
  }
}

TEST(LogFlags, AnUnknownLevelIsAStartUpError) {
  ChildProcess child(OMT_BINARY, {"serve", "--listen", "127.0.0.1:0"}, {"OMT_LOG_LEVEL=verbose"});
  EXPECT_EQ(child.wait_exit(10s), 2);
  EXPECT_NE(child.output().find("log.level"), std::string::npos) << child.output();
}

// ---- the server's logs at trace level: no key, no e-mail, no phone ----

json event(const std::string& type, json fields, const std::string& api_key, int job_id) {
  json message = {{"type", type}, {"userId", "user-" + std::to_string(job_id)}, {"anonymousId", "anon-1"},
                  {"originalTimestamp", "2024-01-02T03:04:05.000Z"}};
  message.merge_patch(fields);
  return {{"message", message},
          {"metadata", {{"jobId", job_id}}},
          {"destination", {{"ID", "dest-1"}, {"Config", {{"apiKey", api_key}, {"marketingOptin", "EXPLICITLY_OPTEDIN"}}}}}};
}

struct PiiTraffic {
  const std::string api_key = "test-api-key-5f1c9e27d4b8a613";
  const Forbidden forbidden{
      {api_key},
      {"ann.lee+promo@example-mail.test", "Bob.ONeil@corp-domain.test", "jane.doe.19851231@jd-home.test"},
      {"+44 7700 900123", "(555) 201-7788", "020 7946 0958", "+1-202-555-0147", "0044.7911.123456"}};

  // Identify, track and order events carrying the addresses and numbers in traits and properties, valid and
  // invalid, through both rudder routes; plus addresses and numbers in the request target.
  void drive(HttpClient& client) const {
    const auto& emails = forbidden.emails;
    const auto& phones = forbidden.phones;
    json events = json::array();
    int job = 1;
    for (std::size_t i = 0; i < emails.size(); ++i) {
      events.push_back(event("identify",
                             {{"context", {{"traits", {{"email", emails[i]}, {"phone", phones[i]}, {"firstName", "Ann"},
                                                       {"listingId", "L1"}}}}}},
                             api_key, job++));
    }
    events.push_back(event("identify", {{"context", {{"traits", {{"email", emails[0]}, {"phone", "not " + phones[3]}}}}}},
                           api_key, job++));  // an invalid phone: its error message must be redacted too
    events.push_back(event("track",
                           {{"event", "Newsletter Signup"},
                            {"properties", {{"email", emails[1]}, {"phone", phones[4]}, {"note", "call " + phones[0]}}}},
                           api_key, job++));
    events.push_back(event("track",
                           {{"event", "Order Completed"},
                            {"properties",
                             {{"order_id", "o-1"}, {"total", 12.5}, {"currency", "GBP"}, {"email", emails[2]},
                              {"products", json::array({{{"product_id", "p1"}, {"price", 12.5}, {"quantity", 1}}})}}},
                            {"context", {{"traits", {{"email", emails[2]}, {"phone", phones[1]}}}}}},
                           api_key, job++));

    const std::string router = json{{"input", events}, {"destType", "ometria"}}.dump();
    EXPECT_EQ(client.post("/routerTransform", router).status, 200);
    EXPECT_EQ(client.post("/v0/destinations/ometria", events.dump()).status, 200);
    EXPECT_EQ(client.post("/v0/destinations/ometria", "[" + events[0].dump()).status, 400);  // a parse error
    EXPECT_LT(client.post("/v0/destinations/" + emails[0], events.dump()).status, 500);  // an unknown destination
    EXPECT_EQ(client.get("/health?email=ann.lee%2Bpromo%40example-mail.test&phone=%2B447700900123&apiKey=" + api_key)
                  .status,
              200);
  }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

bool any_line_has(const std::vector<std::string>& lines, std::string_view needle) {
  for (const auto& l : lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(LogLeaks, TraceLogsOfTheRudderRoutesHoldNoKeyEmailOrPhone) {
  const PiiTraffic traffic;
  LogCapture capture({"trace", obs::LogFormat::json, /*log_pii=*/false});
  {
    TestServer server;
    HttpClient client = server.client();
    traffic.drive(client);
    client.close();
    server.server->shutdown(5s);
  }
  const auto lines = capture.lines();
  // The log did see the traffic, bodies and all, so a clean scan means something.
  ASSERT_TRUE(any_line_has(lines, "POST /routerTransform -> 200")) << joined(lines);
  EXPECT_TRUE(any_line_has(lines, "POST /v0/destinations/ometria body: "));
  EXPECT_TRUE(any_line_has(lines, "answer body: "));
  EXPECT_TRUE(any_line_has(lines, "<email>"));
  EXPECT_TRUE(any_line_has(lines, "<phone>"));
  EXPECT_TRUE(any_line_has(lines, "<secret>"));
  for (const auto& line : lines) EXPECT_TRUE(json::accept(line)) << line;
  const auto leaks = find_log_leaks(lines, traffic.forbidden);
  EXPECT_TRUE(leaks.empty()) << joined(leaks);
}

TEST(LogLeaks, WithLogPiiOnAddressesAppearButTheKeyNever) {
  const PiiTraffic traffic;
  LogCapture capture({"trace", obs::LogFormat::text, /*log_pii=*/true});
  {
    TestServer server;
    HttpClient client = server.client();
    traffic.drive(client);
    client.close();
    server.server->shutdown(5s);
  }
  const auto lines = capture.lines();
  const auto leaks = find_log_leaks(lines, traffic.forbidden);
  EXPECT_FALSE(leaks.empty());  // the switch works, and the scanner finds what is there
  EXPECT_FALSE(any_line_has(lines, traffic.api_key)) << joined(lines);
  EXPECT_TRUE(any_line_has(lines, "<secret>"));
}

TEST(LogLeaks, ScannerFindsEachKindInAnyLayout) {
  const Forbidden forbidden{{"k-secret-1"}, {"ann@example.com"}, {"+44 7700 900123"}};
  EXPECT_TRUE(find_log_leaks({"all clean: <email> <phone> <secret> 2024-01-02T03:04:05.678Z"}, forbidden).empty());
  EXPECT_EQ(find_log_leaks({"key k-secret-1"}, forbidden).size(), 1u);
  EXPECT_EQ(find_log_leaks({"to ANN@Example.com"}, forbidden).size(), 1u);
  EXPECT_EQ(find_log_leaks({"local part ann@<redacted>"}, forbidden).size(), 0u);  // "ann" is too short to tell
  EXPECT_EQ(find_log_leaks({"domain <x>@example.com"}, forbidden).size(), 1u);
  for (const char* phone : {"07700900123", "+44 (0)7700-900 123", "tel:0044.7700.900.123"}) {
    EXPECT_EQ(find_log_leaks({phone}, forbidden).size(), 1u) << phone;
  }
}

}  // namespace
}  // namespace omt::test
