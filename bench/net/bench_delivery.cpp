// Delivery throughput: a SQLite queue pre-filled with 50,000 contact records is drained by the DeliveryService
// through the real HTTPS sender to the fake Ometria (TLS, loopback, no rate limit). Argument: how many API keys
// the records are spread over (each key is one partition, so also how many pushes can be in flight).
// The time covers leasing, pushing and acking every record. Counter: records/s.
#include <benchmark/benchmark.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fake_ometria.hpp"
#include "omt/net/https_sender.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "omt/service/delivery_service.hpp"

namespace {

using namespace std::chrono_literals;

constexpr int kRecords = 50'000;

void drain_queue(benchmark::State& state) {
  static const bool logging = (omt::obs::init_logging(omt::obs::LogOptions{"warn"}), true);
  (void)logging;
  const int keys = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    omt::testing::TempDir dir;
    const auto pki = omt::testing::make_test_pki(dir.path());
    omt::testing::FakeOmetriaOptions fake_options;
    for (int k = 0; k < keys; ++k) fake_options.keys.push_back("bench-key-" + std::to_string(k));
    fake_options.keep_records = false;
    fake_options.tls = true;
    fake_options.cert_file = pki.server_cert_file;
    fake_options.key_file = pki.server_key_file;
    fake_options.threads = 1;
    omt::testing::FakeOmetria fake(fake_options);

    omt::queue::SqliteQueueOptions queue_options;
    queue_options.path = dir.file("queue.db");
    queue_options.durability = omt::queue::Durability::process_crash;
    auto queue = std::move(*omt::queue::SqliteQueue::open(queue_options));
    std::vector<omt::queue::NewRecord> chunk;
    for (int i = 0; i < kRecords; ++i) {
      const std::string id = "contact-" + std::to_string(i);
      chunk.push_back({fake_options.keys[static_cast<std::size_t>(i % keys)], omt::ometria::RecordType::contact,
                       R"({"@type":"contact","id":")" + id + R"(","email":"person)" + std::to_string(i) +
                           R"(@example.com","firstname":"Ann","lastname":"Example","marketing_optin":"NOT_SPECIFIED"})"});
      if (chunk.size() == 5000) {
        (void)queue->enqueue(std::move(chunk)).get();
        chunk.clear();
      }
    }

    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    omt::net::SenderOptions sender_options;
    sender_options.extra_ca_file = pki.ca_file;
    auto sender = omt::net::make_https_sender(io, sender_options);
    omt::obs::Registry metrics;
    omt::service::DeliveryOptions options;
    options.endpoint = fake.url();
    options.rate_limit.requests_per_second = 0;
    omt::service::DeliveryService delivery(io, *queue, *sender, options, metrics);
    std::thread thread([&] { io.run(); });

    state.ResumeTiming();
    const auto started = std::chrono::steady_clock::now();
    delivery.start();
    const bool arrived = fake.wait_for_records(kRecords, 120s);
    while (queue->depth() > 0 && std::chrono::steady_clock::now() - started < 120s) std::this_thread::sleep_for(1ms);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    state.PauseTiming();
    if (!arrived) state.SkipWithError("not every record arrived");
    state.counters["pushes"] = static_cast<double>(fake.request_count());
    delivery.stop(5s);
    sender.reset();
    work.reset();
    thread.join();
    state.ResumeTiming();
  }
  state.counters["records_per_second"] =
      benchmark::Counter(static_cast<double>(kRecords) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(drain_queue)->Arg(1)->Arg(4)->Arg(16)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
