// Throughput of the HTTPS sender against the fake Ometria on loopback: pushes of 100 contact records
// (about 12 KB), over plain HTTP and TLS, with up to `in_flight` pushes on the wire. Counters: records/s.
#include <benchmark/benchmark.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "fake_ometria.hpp"
#include "omt/net/https_sender.hpp"

namespace {

std::string hundred_contacts() {
  std::string body = "[";
  for (int i = 0; i < 100; ++i) {
    if (i) body += ",";
    body += R"({"@type":"contact","id":"contact-)" + std::to_string(i) +
            R"(","email":"person)" + std::to_string(i) +
            R"(@example.com","firstname":"Ann","lastname":"Example","marketing_optin":"NOT_SPECIFIED"})";
  }
  return body + "]";
}

void push_loop(benchmark::State& state, bool tls) {
  omt::testing::TempDir dir;
  omt::testing::FakeOmetriaOptions fake_options;
  fake_options.keys = {"bench-key"};
  fake_options.keep_records = false;
  omt::net::SenderOptions sender_options;
  if (tls) {
    const auto pki = omt::testing::make_test_pki(dir.path());
    fake_options.tls = true;
    fake_options.cert_file = pki.server_cert_file;
    fake_options.key_file = pki.server_key_file;
    sender_options.extra_ca_file = pki.ca_file;
  } else {
    sender_options.allow_plain_http = true;
  }
  const auto in_flight = static_cast<std::size_t>(state.range(0));
  sender_options.max_in_flight = in_flight;
  omt::testing::FakeOmetria fake(fake_options);

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  auto sender = omt::net::make_https_sender(io, sender_options);
  std::thread io_thread([&] { io.run(); });

  const std::string body = hundred_contacts();
  std::mutex mutex;
  std::condition_variable done;
  std::size_t outstanding = 0;
  std::size_t failures = 0;
  const auto send_one = [&] {
    sender->send({fake.url(), "bench-key", body}, [&](omt::delivery::PushOutcome r) {
      std::lock_guard lock(mutex);
      if (!r.has_answer() || r.answer.status != 202) ++failures;
      --outstanding;
      done.notify_all();
    });
  };
  for (auto _ : state) {
    // Keep `in_flight` pushes outstanding for a batch of 64 pushes.
    std::unique_lock lock(mutex);
    for (int sent = 0; sent < 64; ++sent) {
      done.wait(lock, [&] { return outstanding < in_flight; });
      ++outstanding;
      lock.unlock();
      send_one();
      lock.lock();
    }
    done.wait(lock, [&] { return outstanding == 0; });
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 64 * 100);
  state.counters["failures"] = static_cast<double>(failures);
  state.counters["connections"] = static_cast<double>(fake.connections_accepted());
  sender.reset();
  work.reset();
  io_thread.join();
}

void BM_PushPlain(benchmark::State& state) { push_loop(state, false); }
void BM_PushTls(benchmark::State& state) { push_loop(state, true); }

BENCHMARK(BM_PushPlain)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PushTls)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
