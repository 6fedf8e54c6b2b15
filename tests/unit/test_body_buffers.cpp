// A worker's kept buffers for large request bodies: the smallest that fits is taken, else the largest (so that
// buffers too small for the bodies that come do not pile up), and no more than the limit is kept.
#include <gtest/gtest.h>

#include <string>

#include "net/body_buffers.hpp"

namespace {

using omt::net::BodyBuffers;

std::string buffer_of(std::size_t capacity) {
  std::string s;
  s.reserve(capacity);
  s.assign(capacity / 2, 'x');  // a size of its own: a kept buffer keeps its last body's size
  return s;
}

TEST(BodyBuffers, TheSmallestThatFitsElseTheLargest) {
  BodyBuffers kept(10'000'000);
  for (const std::size_t capacity : {100'000, 400'000, 300'000, 200'000}) {
    std::string b = buffer_of(capacity);
    kept.give_back(b);
    EXPECT_EQ(b.capacity(), std::string().capacity()) << "given back: left empty";
  }
  std::string got = kept.take(250'000);
  EXPECT_GE(got.capacity(), 300'000u);
  EXPECT_LT(got.capacity(), 400'000u);
  EXPECT_EQ(got.size(), 150'000u) << "its last body's size, so that resizing it zeroes nothing";
  got = kept.take(1'000'000);  // none fits: the largest
  EXPECT_GE(got.capacity(), 400'000u);
  EXPECT_GE(kept.take(1).capacity(), 100'000u);
  EXPECT_GE(kept.take(1).capacity(), 100'000u);
  EXPECT_EQ(kept.take(1).capacity(), std::string().capacity()) << "none left";
}

TEST(BodyBuffers, NoMoreThanTheLimitIsKept) {
  BodyBuffers kept(1'000'000);
  for (int i = 0; i < 5; ++i) {
    std::string b = buffer_of(300'000);
    kept.give_back(b);
    EXPECT_TRUE(b.empty());
  }
  int taken = 0;
  while (kept.take(1).capacity() >= 300'000) ++taken;
  EXPECT_EQ(taken, 3);
}

}  // namespace
