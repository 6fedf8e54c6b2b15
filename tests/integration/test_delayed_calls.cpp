// DelayedCalls: calls run after their delay on the object's own thread; close() and destruction run the
// waiting ones at once, so a held-back answer is never dropped.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "omt/net/delayed_calls.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(DelayedCalls, RunsAfterTheDelayOffTheCallersThread) {
  omt::net::DelayedCalls calls;
  std::promise<std::thread::id> ran;
  const auto started = Clock::now();
  calls.after(150ms, [&] { ran.set_value(std::this_thread::get_id()); });
  auto future = ran.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_GE(Clock::now() - started, 150ms);
  EXPECT_NE(future.get(), std::this_thread::get_id());
}

TEST(DelayedCalls, CloseRunsWaitingCallsNowAndLaterOnesAtOnce) {
  omt::net::DelayedCalls calls;
  std::promise<void> waiting, later;
  calls.after(1h, [&] { waiting.set_value(); });
  calls.close();
  EXPECT_EQ(waiting.get_future().wait_for(10s), std::future_status::ready);
  calls.after(1h, [&] { later.set_value(); });
  EXPECT_EQ(later.get_future().wait_for(10s), std::future_status::ready);
}

TEST(DelayedCalls, DestructionRunsWhatIsStillWaitingAndACallThatThrowsIsContained) {
  std::atomic<int> ran{0};
  {
    omt::net::DelayedCalls calls;
    calls.after(1h, [] { throw std::runtime_error("boom"); });
    calls.after(1h, [&] { ++ran; });
    calls.after(0ms, [&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
