// KeyHoldTable: the bookkeeping of keys Ometria refused, with the clock passed in: holding, the probe time,
// one pusher carrying the probe, and the end of a hold.
#include <gtest/gtest.h>

#include "omt/delivery/key_holds.hpp"

namespace {

using namespace std::chrono_literals;
using omt::delivery::KeyHoldTable;
using omt::delivery::Pusher;
using omt::ometria::RecordType;

const Pusher kContacts{RecordType::contact, 0};
const Pusher kContacts2{RecordType::contact, 1};
const Pusher kOrders{RecordType::order, 0};

TEST(KeyHolds, AnUnheldKeyAlwaysPushes) {
  KeyHoldTable holds;
  EXPECT_FALSE(holds.held("k"));
  EXPECT_TRUE(holds.may_push("k", kContacts));
  EXPECT_FALSE(holds.is_probe("k", kContacts));
  EXPECT_FALSE(holds.release("k"));
  EXPECT_FALSE(holds.start_probe("k"));
}

TEST(KeyHolds, AHeldKeyPushesNothingUntilItsProbe) {
  KeyHoldTable holds;
  EXPECT_TRUE(holds.hold("k", "HTTP 401", 1'000, 180s));
  ASSERT_TRUE(holds.held("k"));
  const auto& h = holds.holds().at("k");
  EXPECT_EQ(h.reason, "HTTP 401");
  EXPECT_EQ(h.held_at_ms, 1'000);
  EXPECT_EQ(h.probe_at_ms, 181'000);
  EXPECT_FALSE(h.probing);
  EXPECT_FALSE(holds.may_push("k", kContacts));
  EXPECT_TRUE(holds.may_push("other", kContacts));  // other keys keep flowing
  // Refused again by a pusher that leased before the hold: nothing new.
  EXPECT_FALSE(holds.hold("k", "HTTP 403", 2'000, 180s));
  EXPECT_EQ(holds.holds().at("k").held_at_ms, 1'000);
}

TEST(KeyHolds, OnePusherCarriesTheProbe) {
  KeyHoldTable holds;
  holds.hold("k", "HTTP 401", 0, 1s);
  EXPECT_TRUE(holds.start_probe("k"));
  EXPECT_FALSE(holds.start_probe("k"));  // already probing
  EXPECT_TRUE(holds.may_push("k", kContacts));  // the first to ask claims it
  EXPECT_TRUE(holds.is_probe("k", kContacts));
  EXPECT_TRUE(holds.may_push("k", kContacts));  // and keeps it
  EXPECT_FALSE(holds.may_push("k", kContacts2));
  EXPECT_FALSE(holds.may_push("k", kOrders));
  holds.clear_probe("k", kOrders);  // not the probe: no effect
  EXPECT_TRUE(holds.is_probe("k", kContacts));
  holds.clear_probe("k", kContacts);  // it had nothing to push: another pusher may take it
  EXPECT_TRUE(holds.may_push("k", kOrders));
  EXPECT_TRUE(holds.is_probe("k", kOrders));
}

TEST(KeyHolds, ARefusedProbeStartsANewHold) {
  KeyHoldTable holds;
  holds.hold("k", "HTTP 401", 0, 1s);
  holds.start_probe("k");
  holds.may_push("k", kContacts);
  EXPECT_TRUE(holds.hold("k", "HTTP 403", 5'000, 2s));
  const auto& h = holds.holds().at("k");
  EXPECT_EQ(h.reason, "HTTP 403");
  EXPECT_EQ(h.held_at_ms, 5'000);
  EXPECT_EQ(h.probe_at_ms, 7'000);
  EXPECT_FALSE(h.probing);
  EXPECT_FALSE(h.probe.has_value());
  EXPECT_FALSE(holds.may_push("k", kContacts));
}

TEST(KeyHolds, ReleaseEndsTheHold) {
  KeyHoldTable holds;
  holds.hold("k", "HTTP 401", 0, 1s);
  EXPECT_TRUE(holds.release("k"));
  EXPECT_FALSE(holds.held("k"));
  EXPECT_TRUE(holds.may_push("k", kOrders));
}

TEST(KeyHolds, AHoldFromAnEarlierRunIsProbedAnIntervalAfterItBegan) {
  KeyHoldTable holds;
  EXPECT_EQ(holds.restore("k", "HTTP 401", 10'000, 70'000, 180s), 120s);
  EXPECT_EQ(holds.holds().at("k").probe_at_ms, 190'000);
  EXPECT_EQ(holds.restore("old", "HTTP 403", 0, 1'000'000, 180s), 0s);  // overdue: at once
  EXPECT_FALSE(holds.may_push("k", kContacts));
  holds.postpone_probe("k", 200'000, 60s);
  EXPECT_EQ(holds.holds().at("k").probe_at_ms, 260'000);
}

}  // namespace
