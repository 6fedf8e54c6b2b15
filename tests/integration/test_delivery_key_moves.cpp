// A key moved between instances never dead-letters sooner: the delivery engine that loses a key's ownership while
// it holds leased records of it gives them back (Queue::give_back) with their attempts unchanged, so the next owner
// has the whole retry.max_attempts budget for them. Over a real queue each: SQLite (one instance per queue, so the
// ownership is scripted by a KeyOwnership beside it) and PostgreSQL (two instances, the second joining takes the key
// by the fair share). Records linger (60 s) once leased, so they are leased and unpushed when the key goes.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "delivery_harness.hpp"
#include "omt/queue/key_ownership.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "postgres_server.hpp"

namespace omt::test {
namespace {

using ometria::RecordType;
using testing::FakeOmetria;
using testing::FakeOmetriaOptions;
using testing::ScriptedAnswer;

const std::string kKept = "moves-key-a-secret";   // stays with the first instance (PostgreSQL)
const std::string kMoved = "moves-key-b-secret";  // over the first instance's share once a second one joins
constexpr std::uint32_t kMaxAttempts = 2;

// A queue one instance serves (SQLite) with a KeyOwnership the test scripts: the same engine code path as a shared
// queue's ownership rounds (owned keys, keys another instance claims), every other operation the real queue's.
class ScriptedOwnershipQueue final : public queue::Queue, public queue::KeyOwnership {
 public:
  explicit ScriptedOwnershipQueue(queue::Queue& real) : real_(real) {}

  // The keys this instance owns from its next round on; the others are another instance's.
  void own(std::set<std::string> mine, std::set<std::string> others) {
    std::lock_guard lock(mutex_);
    mine_ = std::move(mine);
    others_ = std::move(others);
  }

  void refresh_ownership(queue::OwnershipRequest, RoundDone done) override {
    queue::OwnedKeys keys;
    {
      std::lock_guard lock(mutex_);
      keys.owned.assign(mine_.begin(), mine_.end());
      keys.claimed_by_others.assign(others_.begin(), others_.end());
      keys.keys = mine_.size() + others_.size();
    }
    keys.live_instances = 2;
    keys.fair_share = keys.owned.size();
    done(std::move(keys));
  }
  void resign_ownership(ResignDone done) override { done({}); }
  std::chrono::milliseconds lease_timeout() const override { return std::chrono::milliseconds(300); }
  const std::string& instance_id() const override { return id_; }
  queue::KeyOwnership* key_ownership() override { return this; }

  OMT_QUEUE_WAITING_FORMS;
  void enqueue(std::vector<queue::NewRecord> records, EnqueueDone done) override {
    real_.enqueue(std::move(records), std::move(done));
  }
  void store(queue::IngestWrite write, StoreDone done) override { real_.store(std::move(write), std::move(done)); }
  void lease(const std::string& api_key, RecordType type, queue::Lane lane, std::size_t max,
             std::chrono::milliseconds lease_for, queue::Done<queue::Leased> done) override {
    real_.lease(api_key, type, lane, max, lease_for, std::move(done));
  }
  void ack(const std::vector<queue::RecordId>& ids, queue::Done<std::size_t> done) override {
    real_.ack(ids, std::move(done));
  }
  void reschedule(const std::vector<queue::RecordId>& ids, std::chrono::milliseconds delay,
                  queue::Done<std::size_t> done) override {
    real_.reschedule(ids, delay, std::move(done));
  }
  void give_back(const std::vector<queue::RecordId>& ids, queue::Done<std::size_t> done) override {
    real_.give_back(ids, std::move(done));
  }
  void dead_letter(const std::vector<queue::RecordId>& ids, const std::string& reason,
                   queue::Done<std::size_t> done) override {
    real_.dead_letter(ids, reason, std::move(done));
  }
  void hold_key(const std::string& api_key, const std::string& reason, queue::Done<void> done) override {
    real_.hold_key(api_key, reason, std::move(done));
  }
  void unhold_key(const std::string& api_key, queue::Done<void> done) override {
    real_.unhold_key(api_key, std::move(done));
  }
  void held_keys(queue::Done<std::vector<queue::HeldKey>> done) override { real_.held_keys(std::move(done)); }
  void rekey(const std::string& from, const std::string& to, queue::Done<std::size_t> done) override {
    real_.rekey(from, to, std::move(done));
  }
  void release_key(const std::string& api_key, const std::string& reason, queue::Done<std::size_t> done) override {
    real_.release_key(api_key, reason, std::move(done));
  }
  void ready_partitions(std::uint64_t count_up_to, queue::Done<std::vector<queue::ReadyPartition>> done) override {
    real_.ready_partitions(count_up_to, std::move(done));
  }
  void stats(queue::Done<queue::QueueStats> done) override { real_.stats(std::move(done)); }
  std::uint64_t depth() const override { return real_.depth(); }
  std::uint64_t lane_depth(queue::Lane lane) const override { return real_.lane_depth(lane); }
  std::uint64_t high_water_mark() const override { return real_.high_water_mark(); }
  void dead_letters(const queue::DeadLetterSelection& which, queue::Done<std::vector<queue::DeadRecord>> done) override {
    real_.dead_letters(which, std::move(done));
  }
  void replay(const queue::DeadLetterSelection& which, queue::Done<std::size_t> done) override {
    real_.replay(which, std::move(done));
  }
  void purge(const queue::DeadLetterSelection& which, queue::Done<std::size_t> done) override {
    real_.purge(which, std::move(done));
  }
  void rejected_events(const queue::RejectedEventSelection& which,
                       queue::Done<std::vector<queue::RejectedEvent>> done) override {
    real_.rejected_events(which, std::move(done));
  }
  void settle_rejected_events(std::vector<queue::RejectedEventOutcome> outcomes,
                              queue::Done<queue::RejectedEventsSettled> done) override {
    real_.settle_rejected_events(std::move(outcomes), std::move(done));
  }
  queue::OmetriaErrorLog* ometria_error_log() override { return real_.ometria_error_log(); }
  queue::RequestLog* request_log() override { return real_.request_log(); }
  queue::QueueHealth health() const override { return real_.health(); }

 private:
  queue::Queue& real_;
  const std::string id_ = "scripted-instance";
  std::mutex mutex_;
  std::set<std::string> mine_, others_;
};

class DeliveryKeyMoves : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::make_test_pki(dir_.path());
    FakeOmetriaOptions options;
    options.keys = {kKept, kMoved};
    options.tls = true;
    options.cert_file = pki_.server_cert_file;
    options.key_file = pki_.server_key_file;
    fake_ = std::make_unique<FakeOmetria>(std::move(options));
  }

  // The first owner: a push would wait a minute for more records, so what it leases stays leased and unpushed.
  std::unique_ptr<DeliveryEngine> lingering_engine(queue::Queue& q) {
    auto options = fast_options(fake_->url());
    options.linger = std::chrono::minutes(1);
    options.retry.max_attempts = kMaxAttempts;
    return std::make_unique<DeliveryEngine>(q, test_sender_options(pki_.ca_file), std::move(options));
  }
  std::unique_ptr<DeliveryEngine> engine(queue::Queue& q) {
    auto options = fast_options(fake_->url());
    options.retry.max_attempts = kMaxAttempts;
    return std::make_unique<DeliveryEngine>(q, test_sender_options(pki_.ca_file), std::move(options));
  }

  static bool ready(queue::Queue& q, const std::string& key) {
    auto partitions = q.ready_partitions();
    if (!partitions) return false;
    for (const auto& p : *partitions)
      if (p.api_key == key) return true;
    return false;
  }
  // The moved key's records as the queue holds them now (leased for a moment, then given back as they were).
  static std::vector<std::uint32_t> attempts_of_moved(queue::Queue& q) {
    auto leased = q.lease(kMoved, RecordType::contact, 100, std::chrono::seconds(60));
    EXPECT_TRUE(leased) << leased.error().message;
    if (!leased) return {};
    std::vector<std::uint32_t> attempts;
    std::vector<queue::RecordId> ids;
    for (const auto& r : leased->records) {
      attempts.push_back(r.attempts);
      ids.push_back(r.id);
    }
    EXPECT_EQ(*q.give_back(ids), ids.size());
    return attempts;
  }
  // The next owner's first push of the moved key fails (500): with the attempts unchanged by the move that is a
  // retry, not retry.max_attempts reached, and the retry delivers every record.
  void expect_next_owner_delivers_after_one_failure(queue::Queue& next_owner, const std::set<std::string>& ids) {
    ScriptedAnswer failure = ScriptedAnswer::with_status(500);
    failure.only_for_key = kMoved;
    fake_->script(failure);
    auto next = engine(next_owner);
    ASSERT_TRUE(wait_for_distinct_ids(*fake_, ids.size()));
    std::set<std::string> delivered;
    for (const auto& r : fake_->records()) delivered.insert(r.id);
    for (const auto& id : ids) EXPECT_EQ(delivered.count(id), 1u) << id;
    next->stop(std::chrono::seconds(5));
    const auto requests = fake_->requests();
    EXPECT_EQ(std::count_if(requests.begin(), requests.end(),
                            [](const auto& r) { return r.api_key == kMoved && r.target == "/v2/push"; }),
              2)
        << "one push refused (500), its retry accepted";
    auto stats = next_owner.stats();
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->dead_letters, 0u) << "the move counted as an attempt";
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  std::unique_ptr<FakeOmetria> fake_;
};

TEST_F(DeliveryKeyMoves, OnSqliteALostKeysLeasedRecordsGoBackWithTheirAttemptsUnchanged) {
  auto sqlite = open_queue(dir_.file("queue.db"));
  ScriptedOwnershipQueue q(*sqlite);
  const auto ids = enqueue_records(q, kMoved, RecordType::contact, 3);
  q.own({kMoved}, {});
  {
    auto first = lingering_engine(q);
    ASSERT_TRUE(eventually([&] { return !ready(q, kMoved); })) << "never leased";
    // Lost and won back three times: each loss gives the records back unpushed.
    for (int move = 0; move < 3; ++move) {
      q.own({}, {kMoved});
      ASSERT_TRUE(eventually([&] { return ready(q, kMoved); })) << "not given back, move " << move;
      EXPECT_EQ(attempts_of_moved(q), (std::vector<std::uint32_t>{0, 0, 0}));
      q.own({kMoved}, {});
      ASSERT_TRUE(eventually([&] { return !ready(q, kMoved); })) << "not leased again, move " << move;
    }
    q.own({}, {kMoved});
    ASSERT_TRUE(eventually([&] { return ready(q, kMoved); }));
    first->stop(std::chrono::seconds(5));
  }
  EXPECT_TRUE(fake_->records().empty()) << "the first owner pushed";
  q.own({kMoved}, {});
  expect_next_owner_delivers_after_one_failure(q, ids);
}

TEST_F(DeliveryKeyMoves, OnPostgresAKeyTakenByAJoiningInstanceGoesBackWithItsAttemptsUnchanged) {
  const std::string url = PostgresServer::shared().create_database();
  auto open = [&](const std::string& name, std::chrono::milliseconds lease_timeout) {
    queue::PostgresQueueOptions o;
    o.url = url;
    o.lease_owner = name;
    o.instance_id = name;
    o.lease_timeout = lease_timeout;
    auto q = queue::PostgresQueue::open(std::move(o));
    if (!q) throw std::runtime_error(q.error().message);
    return std::move(*q);
  };
  auto writer = open("writer", std::chrono::seconds(3));
  enqueue_records(*writer, kKept, RecordType::contact, 2);
  const auto ids = enqueue_records(*writer, kMoved, RecordType::contact, 3);
  auto a = open("instance-a", std::chrono::seconds(3));  // a round a second
  // Registered by the test's one round below, and live for a minute without another (its engine starts later).
  auto b = open("instance-b", std::chrono::minutes(1));
  {
    auto first = lingering_engine(*a);  // alone: both keys are its
    ASSERT_TRUE(eventually([&] { return !ready(*writer, kKept) && !ready(*writer, kMoved); })) << "never leased";
    // b registers: the share is one key each, and a gives its last one back once that key's pushes are done.
    std::promise<Expected<queue::OwnedKeys>> joined;
    b->key_ownership()->refresh_ownership({}, [&joined](Expected<queue::OwnedKeys> r) { joined.set_value(std::move(r)); });
    ASSERT_TRUE(joined.get_future().get());
    ASSERT_TRUE(eventually([&] { return ready(*writer, kMoved); })) << "not given back";
    EXPECT_FALSE(ready(*writer, kKept)) << "the kept key's records were given back too";
    EXPECT_EQ(attempts_of_moved(*writer), (std::vector<std::uint32_t>{0, 0, 0}));
    first->stop(std::chrono::seconds(5));  // resigns: b takes the moved key at its first round
  }
  EXPECT_TRUE(fake_->records().empty()) << "the first owner pushed";
  // b's engine: its first round takes the moved key (and the kept one, whose records a leased stay so a minute).
  expect_next_owner_delivers_after_one_failure(*b, ids);
}

}  // namespace
}  // namespace omt::test
