// Key ownership on a real PostgreSQL (queue::KeyOwnership as PostgresQueue implements it): each queue object is one
// instance, all on one database and one fake clock. Claims go to keys with records only, up to the fair share
// ceil(keys / live instances); renewed claims outlive lease_timeout; an instance that stops renewing loses its
// keys (and the record leases it left on them) to the others after lease_timeout; a key over the share is given
// back only when the instance names it; a resigned instance's keys are free at once.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "omt/queue/key_ownership.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"
#include "queue_records.hpp"

namespace {

using namespace std::chrono_literals;
using omt::queue::OwnedKeys;
using omt::queue::PostgresQueue;
using omt::queue::PostgresQueueOptions;
using omt::test::PostgresServer;
using Keys = std::vector<std::string>;

class KeyOwnershipPostgres : public ::testing::Test {
 protected:
  void SetUp() override { url_ = PostgresServer::shared().create_database(); }

  PostgresQueue& instance(const std::string& name) {
    if (auto it = instances_.find(name); it != instances_.end()) return *it->second;  // threads only read
    auto& slot = instances_[name];
    {
      PostgresQueueOptions o;
      o.url = url_;
      o.lease_owner = name;
      o.instance_id = name;
      o.lease_timeout = 3000ms;
      o.clock = [this] { return now_.load(); };
      auto q = PostgresQueue::open(std::move(o));
      if (!q) throw std::runtime_error(q.error().message);
      slot = std::move(*q);
    }
    return *slot;
  }
  OwnedKeys round(const std::string& name, Keys give_back = {}) {
    std::promise<omt::Expected<OwnedKeys>> done;
    auto answer = done.get_future();
    instance(name).key_ownership()->refresh_ownership(
        omt::queue::OwnershipRequest{std::move(give_back)},
        [&done](omt::Expected<OwnedKeys> r) { done.set_value(std::move(r)); });
    auto r = answer.get();
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }
  // A round that gives back what the last one said was over the share, as delivery does once those keys are idle.
  OwnedKeys settle(const std::string& name) {
    auto first = round(name);
    if (first.to_give_back.empty()) return first;
    return round(name, first.to_give_back);
  }
  void add_records(const std::vector<std::string>& keys) {
    auto& q = instance("writer");
    for (const auto& key : keys) omt::test::enqueue_acknowledged(q, omt::test::contacts(key, 1, 3));
  }
  static Keys six_keys() { return {"k1", "k2", "k3", "k4", "k5", "k6"}; }

  std::string url_;
  std::atomic<omt::queue::UnixMillis> now_{1'700'000'000'000};
  std::map<std::string, std::unique_ptr<PostgresQueue>> instances_;
};

TEST_F(KeyOwnershipPostgres, OneInstanceClaimsEveryKeyWithRecordsAndDropsAKeyOnceItsRecordsAreGone) {
  add_records({"k1", "k2", "k3"});
  auto a = round("a");
  EXPECT_EQ(a.owned, (Keys{"k1", "k2", "k3"}));
  EXPECT_EQ(a.taken_over, (Keys{"k1", "k2", "k3"}));
  EXPECT_TRUE(a.taken_from_expired.empty());
  EXPECT_EQ(a.live_instances, 1u);  // the writer runs no rounds: it is no delivering instance
  EXPECT_EQ(a.keys, 3u);
  EXPECT_EQ(a.fair_share, 3u);

  auto& q = instance("a");
  auto leased = q.lease("k3", omt::queue::RecordType::contact, 10, 60s);
  ASSERT_TRUE(leased);
  std::vector<omt::queue::RecordId> ids;
  for (const auto& r : leased->records) ids.push_back(r.id);
  ASSERT_EQ(*q.ack(ids), 3u);
  auto again = round("a");
  EXPECT_EQ(again.owned, (Keys{"k1", "k2"}));
  EXPECT_TRUE(again.taken_over.empty()) << "renewed, not taken again";
}

TEST_F(KeyOwnershipPostgres, KeysSpreadEvenlyAsInstancesJoinAndAKeyOverTheShareIsGivenBackOnlyWhenNamed) {
  add_records(six_keys());
  EXPECT_EQ(round("a").owned.size(), 6u);  // alone: every key

  auto b = round("b");
  EXPECT_TRUE(b.owned.empty()) << "every key is still a's";
  EXPECT_EQ(b.fair_share, 3u);
  EXPECT_EQ(b.claimed_by_others, six_keys());

  auto a = round("a");
  EXPECT_EQ(a.owned.size(), 6u) << "over the share, but kept until given back";
  EXPECT_EQ(a.to_give_back, (Keys{"k4", "k5", "k6"}));
  EXPECT_EQ(round("a").to_give_back, a.to_give_back) << "the same keys, round after round";
  EXPECT_EQ(round("a", a.to_give_back).owned, (Keys{"k1", "k2", "k3"}));
  EXPECT_EQ(round("b").owned, (Keys{"k4", "k5", "k6"}));

  EXPECT_TRUE(round("c").owned.empty());
  settle("a");
  settle("b");
  auto c = round("c");
  EXPECT_EQ(c.fair_share, 2u);
  EXPECT_EQ(c.live_instances, 3u);
  std::set<std::string> all;
  for (const auto* name : {"a", "b", "c"}) {
    const auto owned = round(name).owned;
    EXPECT_EQ(owned.size(), 2u) << name;
    for (const auto& key : owned) EXPECT_TRUE(all.insert(key).second) << key << " owned twice";
  }
  EXPECT_EQ(all.size(), 6u);
}

TEST_F(KeyOwnershipPostgres, RenewedClaimsOutliveTheLeaseTimeoutAndExpiredOnesAreTakenOverWithTheirRecordLeases) {
  add_records({"k1", "k2"});
  EXPECT_EQ(round("a").owned, (Keys{"k1", "k2"}));
  auto leased = instance("a").lease("k1", omt::queue::RecordType::contact, 10, std::chrono::minutes(5));
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->records.size(), 3u);

  now_ += 2000;
  EXPECT_EQ(round("a").owned, (Keys{"k1", "k2"}));  // renewed until +5 s
  now_ += 2000;                                       // +4 s: past the first claim's end, not the renewal's
  auto b = round("b");
  EXPECT_TRUE(b.owned.empty());
  EXPECT_EQ(b.claimed_by_others, (Keys{"k1", "k2"}));

  now_ += 3000;  // a renewed nothing for 5 s: its claims and its registration have expired
  b = round("b");
  EXPECT_EQ(b.owned, (Keys{"k1", "k2"}));
  EXPECT_EQ(b.taken_from_expired, (Keys{"k1", "k2"}));
  EXPECT_EQ(b.live_instances, 1u);
  // What a leased and never acked is due again now, not in five minutes.
  auto again = instance("b").lease("k1", omt::queue::RecordType::contact, 10, std::chrono::minutes(5));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->records.size(), 3u);

  auto a = round("a");  // a comes back: a new registration, its keys are b's now
  EXPECT_TRUE(a.owned.empty());
  EXPECT_EQ(a.claimed_by_others, (Keys{"k1", "k2"}));
  EXPECT_EQ(a.live_instances, 2u);
}

TEST_F(KeyOwnershipPostgres, AResignedInstancesKeysAreFreeAtOnce) {
  add_records({"k1", "k2"});
  EXPECT_EQ(round("a").owned.size(), 2u);
  std::promise<omt::Expected<void>> done;
  instance("a").key_ownership()->resign_ownership([&done](omt::Expected<void> r) { done.set_value(std::move(r)); });
  ASSERT_TRUE(done.get_future().get());
  auto b = round("b");
  EXPECT_EQ(b.owned, (Keys{"k1", "k2"}));
  EXPECT_TRUE(b.taken_from_expired.empty()) << "given back, not expired";
  EXPECT_EQ(b.live_instances, 1u);
}

TEST_F(KeyOwnershipPostgres, RoundsOfInstancesRunningAtOnceNeverClaimOneKeyTwice) {
  add_records(six_keys());
  for (const auto* name : {"a", "b", "c"}) instance(name);
  std::vector<std::thread> threads;
  std::atomic<int> over_share{0};
  for (const auto* name : {"a", "b", "c"}) {
    threads.emplace_back([&, name] {
      for (int i = 0; i < 20; ++i) {
        const auto r = settle(name);
        if (r.owned.size() - r.to_give_back.size() > r.fair_share) ++over_share;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over_share.load(), 0);
  std::set<std::string> all;
  for (const auto* name : {"a", "b", "c"}) {
    const auto owned = round(name).owned;
    EXPECT_LE(owned.size(), 2u) << name;
    for (const auto& key : owned) EXPECT_TRUE(all.insert(key).second) << key << " owned twice";
  }
  // Settled: a last round each leaves every key with one owner, two each.
  for (const auto* name : {"a", "b", "c"}) settle(name);
  std::size_t total = 0;
  for (const auto* name : {"a", "b", "c"}) total += round(name).owned.size();
  EXPECT_EQ(total, 6u);
}

}  // namespace
