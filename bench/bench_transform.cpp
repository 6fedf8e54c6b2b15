// Events/s of the pure stages on one thread: parse one 3-4 KB event with simdjson, map it, serialise it.
// Run: ./build/bench/omt_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/rudder.hpp"
#include "sample_events.hpp"

namespace {

const omt::ometria::Transformer& transformer() {
  static const auto t = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  if (!t) std::abort();
  return *t;
}

void run_events(benchmark::State& state, std::string (*make)(int)) {
  std::vector<std::string> events;
  for (int i = 0; i < 64; ++i) events.push_back(make(i));
  omt::ometria::DestinationConfig config{"bench-api-key", "EXPLICITLY_OPTEDOUT", false, false, std::nullopt};
  simdjson::dom::parser parser;
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& event = events[i++ % events.size()];
    simdjson::dom::element message;
    if (parser.parse(event).get(message) != simdjson::SUCCESS) state.SkipWithError("parse");
    auto record = transformer().transform(message, config);
    if (!record) state.SkipWithError(record.error().message.c_str());
    benchmark::DoNotOptimize(record);
    bytes += event.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["event_bytes"] = static_cast<double>(events[0].size());
}

void BM_Identify(benchmark::State& state) { run_events(state, &omt::bench::identify_event); }
void BM_CustomEvent(benchmark::State& state) { run_events(state, &omt::bench::custom_event); }
void BM_Order3LineItems(benchmark::State& state) { run_events(state, &omt::bench::order_event); }

using Route = omt::protocol::Reply (*)(std::string_view, const omt::ometria::Transformer&, omt::protocol::EventTally*,
                                       std::size_t, omt::protocol::BodyForm);

void run_body(benchmark::State& state, Route route, const std::string& body, omt::protocol::BodyForm form) {
  for (auto _ : state) {
    auto reply = route(body, transformer(), nullptr, 0, form);
    if (reply.status != 200) state.SkipWithError("status");
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 100);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// The whole processor request: 100 mixed events in, the rudder-transformer response out.
void BM_ProcessorBody100(benchmark::State& state) {
  run_body(state, &omt::protocol::processor_transform, omt::bench::processor_body(100),
           omt::protocol::BodyForm::expanded);
}
// One identify as a processor body: the load benchmark's one-identify request (bench/load), without the server.
void BM_ProcessorBody1Identify(benchmark::State& state) {
  const std::string body = R"([{"message":)" + omt::bench::identify_event(1) + R"(,"metadata":)" +
                           omt::bench::metadata_json(1) + R"(,"destination":)" + omt::bench::destination_json() + "}]";
  for (auto _ : state) {
    auto reply = omt::protocol::processor_transform(body, transformer(), nullptr, 0, omt::protocol::BodyForm::expanded);
    if (reply.status != 200) state.SkipWithError("status");
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
// The same 100 events as a router body.
void BM_RouterBody100(benchmark::State& state) {
  run_body(state, &omt::protocol::router_transform,
           R"({"input":)" + omt::bench::processor_body(100) + R"(,"destType":"ometria"})",
           omt::protocol::BodyForm::expanded);
}
// Both in rudder-server's compacted form (X-Content-Format: json+compactedv1): the same answers.
void BM_ProcessorBody100Compacted(benchmark::State& state) {
  run_body(state, &omt::protocol::processor_transform, omt::bench::compacted_body_open(100) + "}",
           omt::protocol::BodyForm::compacted_v1);
}
void BM_RouterBody100Compacted(benchmark::State& state) {
  run_body(state, &omt::protocol::router_transform,
           omt::bench::compacted_body_open(100) + R"(,"destType":"ometria"})", omt::protocol::BodyForm::compacted_v1);
}

}  // namespace

BENCHMARK(BM_Identify);
BENCHMARK(BM_CustomEvent);
BENCHMARK(BM_Order3LineItems);
BENCHMARK(BM_ProcessorBody1Identify);
BENCHMARK(BM_ProcessorBody100);
BENCHMARK(BM_ProcessorBody100Compacted);
BENCHMARK(BM_RouterBody100);
BENCHMARK(BM_RouterBody100Compacted);
BENCHMARK_MAIN();
