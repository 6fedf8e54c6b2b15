// Durable queue throughput: enqueue with group commit (16 producers' batches of 100 ~1 KB records in flight,
// as 16 concurrent ingest requests would be) and lease + ack of 100-record batches. Real SQLite in /tmp.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "omt/queue/sqlite_queue.hpp"

namespace {

using omt::queue::Durability;
using omt::queue::NewRecord;
using omt::queue::RecordType;
using omt::queue::SqliteQueue;

class TempQueue {
 public:
  explicit TempQueue(Durability durability) {
    std::string pattern = (std::filesystem::temp_directory_path() / "omt-bench-queue-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    omt::queue::SqliteQueueOptions options;
    options.path = dir_ / "queue.db";
    options.durability = durability;
    options.high_water_mark = 100'000'000;
    auto q = SqliteQueue::open(options);
    if (!q) throw std::runtime_error(q.error().message);
    queue_ = std::move(*q);
  }
  ~TempQueue() {
    queue_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SqliteQueue& queue() { return *queue_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteQueue> queue_;
};

// A ~1 KB contact record, like a mapped identify with a handful of traits.
std::vector<NewRecord> batch_of_100(int key) {
  std::vector<NewRecord> records;
  records.reserve(100);
  const std::string padding(900, 'x');
  for (int i = 0; i < 100; ++i) {
    records.push_back(NewRecord{"api-key-" + std::to_string(key), RecordType::contact,
                                R"({"@type":"contact","id":"user-)" + std::to_string(i) +
                                    R"(","email":"someone@example.com","properties":{"note":")" + padding + "\"}}"});
  }
  return records;
}

void BM_EnqueueGroupCommit(benchmark::State& state) {
  const auto durability = state.range(0) == 0 ? Durability::process_crash : Durability::power_loss;
  const int in_flight = static_cast<int>(state.range(1));
  TempQueue tq(durability);
  const auto template_batch = batch_of_100(0);
  const auto commits_before = tq.queue().commits();
  for (auto _ : state) {
    std::vector<std::future<omt::Expected<std::vector<omt::queue::RecordId>>>> futures;
    futures.reserve(static_cast<std::size_t>(in_flight));
    for (int i = 0; i < in_flight; ++i) futures.push_back(tq.queue().enqueue(template_batch));
    for (auto& f : futures) {
      auto ids = f.get();
      if (!ids) state.SkipWithError(ids.error().message.c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * in_flight * 100);
  state.SetBytesProcessed(state.iterations() * in_flight * 100 * static_cast<std::int64_t>(template_batch[0].json.size()));
  state.counters["records_per_commit"] = benchmark::Counter(
      static_cast<double>(state.iterations() * in_flight * 100) /
      static_cast<double>(std::max<std::uint64_t>(tq.queue().commits() - commits_before, 1)));
}
BENCHMARK(BM_EnqueueGroupCommit)
    ->ArgNames({"full_sync", "in_flight"})
    ->Args({0, 1})
    ->Args({0, 16})
    ->Args({1, 1})
    ->Args({1, 16})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_LeaseAck(benchmark::State& state) {
  const auto durability = state.range(0) == 0 ? Durability::process_crash : Durability::power_loss;
  TempQueue tq(durability);
  const auto template_batch = batch_of_100(0);
  std::int64_t leased_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (tq.queue().depth() < 100) {
      std::vector<std::future<omt::Expected<std::vector<omt::queue::RecordId>>>> futures;
      for (int i = 0; i < 50; ++i) futures.push_back(tq.queue().enqueue(template_batch));
      for (auto& f : futures) f.get();
    }
    state.ResumeTiming();
    auto leased = tq.queue().lease("api-key-0", RecordType::contact, 100, std::chrono::seconds(30));
    if (!leased) {
      state.SkipWithError(leased.error().message.c_str());
      break;
    }
    std::vector<omt::queue::RecordId> ids;
    ids.reserve(leased->records.size());
    for (const auto& r : leased->records) ids.push_back(r.id);
    auto acked = tq.queue().ack(ids);
    if (!acked) {
      state.SkipWithError(acked.error().message.c_str());
      break;
    }
    leased_total += static_cast<std::int64_t>(ids.size());
  }
  state.SetItemsProcessed(leased_total);
}
BENCHMARK(BM_LeaseAck)->ArgNames({"full_sync"})->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
