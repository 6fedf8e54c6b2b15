// The fake-ometria program as a user runs it to rehearse failures (README, docs/operations.md): a refused key,
// a status for every push with Retry-After, and bad options refused with exit status 2.
#include <gtest/gtest.h>

#include <csignal>

#include "child_process.hpp"
#include "http_client.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;

struct RunningFake {
  ChildProcess child;
  std::uint16_t port = 0;
  explicit RunningFake(const std::vector<std::string>& args) : child(OMT_FAKE_OMETRIA_BINARY, args) {
    const auto line = child.wait_for_line("listening on", 10s);
    if (!line) throw std::runtime_error("fake-ometria did not start: " + child.output());
    // "fake-ometria: listening on http://127.0.0.1:PORT/v2/push"
    const auto colon = line->rfind(':');
    port = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
  }
  HttpResponse push(const std::string& key) {
    HttpClient client("127.0.0.1", port);
    return client.post("/v2/push", R"([{"@type":"contact","id":"c1"}])", {{"X-Ometria-Auth", key}});
  }
};

TEST(FakeOmetriaProgram, RefuseKeyAnswersThatKeyWithItsStatusAndAcceptsTheOthers) {
  RunningFake fake({"--keys", "good,bad", "--refuse-key", "bad=401", "--out", "/dev/null"});
  EXPECT_EQ(fake.push("bad").status, 401);
  EXPECT_EQ(fake.push("good").status, 202);
  EXPECT_EQ(fake.push("unknown").status, 401);
}

TEST(FakeOmetriaProgram, StatusAnswersEveryPushWithRetryAfter) {
  RunningFake fake({"--keys", "k", "--status", "429", "--retry-after", "7", "--out", "/dev/null"});
  const auto answer = fake.push("k");
  EXPECT_EQ(answer.status, 429);
  EXPECT_EQ(answer.header("Retry-After"), "7");
  HttpClient client("127.0.0.1", fake.port);
  EXPECT_EQ(client.get("/_fake/stats").body, R"({"pushes":0,"records":0,"requests":1})");
}

TEST(FakeOmetriaProgram, RejectLaterAcceptsARecordThenListsItInTheErrorsList) {
  RunningFake fake({"--keys", "k,other", "--reject-later", "c1=Invalid email", "--errors-with-ids", "--out", "/dev/null"});
  EXPECT_EQ(fake.push("k").status, 202);  // accepted: Ometria validates later
  HttpClient client("127.0.0.1", fake.port);
  const auto listed = client.request("GET", "/v2/push/_errors", "", {{"X-Ometria-Auth", "k"}});
  EXPECT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body, R"([{"error_message":"Invalid email","error_path":"root","record_id":"c1","record_type":"contact",)"
                         R"("request_id":"fake-1","time_stamp":"2026-01-01T00:00:00Z"}])");
  EXPECT_EQ(client.request("GET", "/v2/push/_errors", "", {{"X-Ometria-Auth", "other"}}).body, "[]") << "per key";
  EXPECT_EQ(client.request("GET", "/v2/push/_errors", "", {{"X-Ometria-Auth", "nobody"}}).status, 401);
}

TEST(FakeOmetriaProgram, BadOptionsExitTwoWithAReason) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--keys", "k", "--refuse-key", "k"},
           {"--keys", "k", "--refuse-key", "k=200"},
           {"--keys", "k", "--status", "200"},
           {"--keys", "k", "--retry-after", "5"},
           {"--keys", "k", "--reject-later", "c1"}}) {
    ChildProcess child(OMT_FAKE_OMETRIA_BINARY, args);
    EXPECT_EQ(child.wait_exit(10s), 2) << args.back();
    EXPECT_NE(child.output().find("fake-ometria: --"), std::string::npos) << child.output();
  }
}

}  // namespace
}  // namespace omt::test
