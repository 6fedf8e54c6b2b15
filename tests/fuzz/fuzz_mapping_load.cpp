// libFuzzer: any bytes as one of the mapping files (the first byte picks which; the others are the shipped
// ones). Loading must either succeed or fail with a message, never crash; when it succeeds, the rules are
// applied to a sample event.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "mapping/applier.hpp"
#include "mapping/loader.hpp"
#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"

namespace {
const char* const files[] = {"generic.json", "contact.json", "custom_event.json", "order.json", "lineitems.json", "variant.json"};

const omt::mapping::GenericLookups& shipped_generic() {
  static const auto generic = [] {
    std::ifstream in(omt::test::project_mappings_dir() / "generic.json");
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = omt::mapping::parse_generic_file(ss.str());
    if (!parsed) std::abort();
    return *parsed;
  }();
  return generic;
}

simdjson::dom::element sample_event() {
  static simdjson::dom::parser parser;
  static const simdjson::dom::element event = [] {
    simdjson::dom::element e;
    if (parser.parse(std::string_view(R"({"type":"identify","userId":"u","traits":{"email":"a@b.c","listingId":"l","name":"A B C","phone":"+442079460958","a":{"b":[1,{"c":2}]}},"properties":{"order_id":"o","currency":" usd ","timestamp":"2024-01-01T00:00:00Z","products":[{"product_id":"p","quantity":1,"unit_price":1,"variant_options":[{"id":"i","type":"t","label":"l"}]}]}})")).get(e) != simdjson::SUCCESS)
      std::abort();
    return e;
  }();
  return event;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string name = files[data[0] % 6];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (name == "generic.json") {
    auto generic = omt::mapping::parse_generic_file(text);
    if (!generic && generic.error().message.empty()) std::abort();
    return 0;
  }
  auto file = omt::mapping::parse_mapping_file(name, text, shipped_generic());
  if (!file) {
    if (file.error().message.empty()) std::abort();
    return 0;
  }
  omt::json::Arena arena;
  for (const auto& [list_name, list] : file->lists) {
    auto out = omt::mapping::apply(list, sample_event(), arena);
    if (out) {
      std::string text_out;
      omt::json::write(text_out, omt::json::OutValue(std::move(*out)));
    }
  }
  if (file->custom_fields) (void)omt::mapping::extract_custom_fields(*file->custom_fields, sample_event());
  return 0;
}
