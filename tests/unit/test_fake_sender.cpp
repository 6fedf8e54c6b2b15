// FakeSender, the Sender that delivery unit tests script: default answers, scripted order, the n-th call
// failing, and held completions.
#include <gtest/gtest.h>

#include <vector>

#include "omt/delivery/fake_sender.hpp"

namespace {

using omt::delivery::FakeSender;
using omt::delivery::NetworkError;
using omt::delivery::PushRequest;
using PushResult = omt::delivery::PushOutcome;

std::vector<PushResult> send_n(FakeSender& sender, int n, const std::string& body = R"([{"id":"a"},{"id":"b"}])") {
  std::vector<PushResult> results;
  for (int i = 0; i < n; ++i) {
    sender.send(PushRequest{"https://example.invalid/v2/push", "k", body},
                [&](PushResult r) { results.push_back(std::move(r)); });
  }
  return results;
}

TEST(FakeSender, DefaultIsAcceptedWithTheRecordCount) {
  FakeSender sender;
  const auto results = send_n(sender, 1, R"([{"id":"a","s":"x,]}"},[1,2],{"n":{"m":[3]}}])");
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].has_answer());
  EXPECT_EQ(results[0].answer.status, 202);
  EXPECT_NE(results[0].answer.body.find(R"("accepted":3)"), std::string::npos) << results[0].answer.body;
  EXPECT_EQ(sender.calls(), 1u);
  EXPECT_EQ(sender.requests()[0].api_key, "k");
}

TEST(FakeSender, ScriptThenNthCallFailsThenDefault) {
  FakeSender sender;
  sender.script(FakeSender::status(429, "3"));
  sender.script(FakeSender::status(500));
  sender.fail_call(2, NetworkError::timeout);
  const auto results = send_n(sender, 4);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].answer.status, 429);
  EXPECT_EQ(results[0].answer.retry_after, "3");
  ASSERT_FALSE(results[1].has_answer());
  EXPECT_EQ(*results[1].network_error, NetworkError::timeout);
  EXPECT_EQ(results[2].answer.status, 500);  // the script waits for the calls that are not overridden
  EXPECT_EQ(results[3].answer.status, 202);
}

TEST(FakeSender, HeldCompletionsRunWhenReleased) {
  FakeSender sender;
  sender.hold_completions(true);
  std::vector<int> statuses;
  for (int i = 0; i < 2; ++i)
    sender.send(PushRequest{"u", "k", "[]"}, [&](PushResult r) { statuses.push_back(r.answer.status); });
  EXPECT_TRUE(statuses.empty());
  EXPECT_EQ(sender.held(), 2u);
  EXPECT_TRUE(sender.complete_next());
  EXPECT_EQ(statuses.size(), 1u);
  EXPECT_TRUE(sender.complete_next());
  EXPECT_FALSE(sender.complete_next());
  EXPECT_EQ(statuses, (std::vector<int>{202, 202}));
}

}  // namespace
