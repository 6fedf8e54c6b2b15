// libFuzzer: any bytes as one of the mapping files (the first byte picks which), the others as shipped.
// Loading must either succeed or fail with a message; never crash. When it succeeds, a sample event is mapped.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "mapping/engine.hpp"
#include "omt/ometria/transformer.hpp"

namespace {
const char* const files[] = {"generic.json", "contact.json", "custom_event.json", "order.json", "lineitems.json", "variant.json"};

const std::map<std::string, std::string>& shipped() {
  static const auto texts = [] {
    std::map<std::string, std::string> m;
    for (const char* name : files) {
      std::ifstream in(omt::ometria::Transformer::default_mappings_dir() / name);
      std::stringstream ss;
      ss << in.rdbuf();
      m[name] = ss.str();
    }
    return m;
  }();
  return texts;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string replaced = files[data[0] % 6];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto tables = omt::mapping::TableSet::parse([&](const std::string& name) -> omt::Expected<std::string> {
    if (name == replaced) return text;
    return shipped().at(name);
  });
  if (!tables) {
    if (tables.error().message.empty()) std::abort();
    return 0;
  }
  static simdjson::dom::parser parser;
  simdjson::dom::element event;
  if (parser.parse(std::string_view(R"({"type":"identify","userId":"u","traits":{"email":"a@b.c","listingId":"l","name":"A B C","phone":"+442079460958"},"properties":{"order_id":"o","products":[{"product_id":"p","quantity":1,"unit_price":1,"variant_options":[{"id":"i","type":"t","label":"l"}]}]}})")).get(event) != simdjson::SUCCESS)
    std::abort();
  omt::json::Arena arena;
  for (const auto* file : {&tables->contact, &tables->custom_event, &tables->order, &tables->lineitems, &tables->variant})
    for (const auto& [name, list] : file->lists) (void)omt::mapping::apply(list, event, arena);
  return 0;
}
