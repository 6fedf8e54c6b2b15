// Identify events through the whole Ometria transform (parse once, then map + validate + serialise), and the
// e164 validator on its own. Most identify events carry a phone number, so the validator dominates.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/validate/validators.hpp"

namespace {

// A mix of regions, formats and a few invalid numbers, as seen in real traffic.
const std::vector<std::string> kPhones = {
    "+44 20 7946 0958", "+1 (415) 555-2671", "+4930123456",     "+919876543210",  "+33 6 12 34 56 78",
    "+61 412 345 678",  "+44 7700 900123",   "+34 612 34 56 78", "+81 90-1234-5678", "+55 11 91234-5678",
    "+39 06 1234 5678", "+1 242 357 1234",   "+49 1512 3456789", "+7 912 345-67-89", "+86 138 0013 8000",
};

std::string identify_json(const std::string& phone, int n) {
  return R"({"type":"identify","userId":"u)" + std::to_string(n) +
         R"(","context":{"traits":{"email":"user)" + std::to_string(n) +
         R"(@example.com","listingId":"l)" + std::to_string(n) + R"(","firstName":"Ada","lastName":"Lovelace","phone":")" +
         phone + R"("}}})";
}

void BM_IdentifyTransform(benchmark::State& state) {
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  if (!transformer) {
    state.SkipWithError("cannot load mappings");
    return;
  }
  std::vector<simdjson::dom::parser> parsers(kPhones.size());
  std::vector<simdjson::dom::element> messages;
  for (std::size_t i = 0; i < kPhones.size(); ++i) {
    messages.push_back(parsers[i].parse(identify_json(kPhones[i], static_cast<int>(i))).value());
  }
  const omt::ometria::DestinationConfig config{.api_key = "key-1"};
  std::size_t i = 0;
  for (auto _ : state) {
    auto record = transformer->transform(messages[i], config);
    benchmark::DoNotOptimize(record);
    i = (i + 1) % messages.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdentifyTransform);

void BM_E164Phone(benchmark::State& state) {
  std::size_t i = 0;
  for (auto _ : state) {
    auto e164 = omt::validate::e164_phone(kPhones[i]);
    benchmark::DoNotOptimize(e164);
    i = (i + 1) % kPhones.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_E164Phone);

}  // namespace
