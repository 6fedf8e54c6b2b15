// libFuzzer: any bytes as one event. Must never crash, leak or trip a sanitizer; the result is either a record of
// valid JSON or an error with a message.
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  if (!transformer) std::abort();
  static simdjson::dom::parser parser;
  simdjson::dom::element message;
  if (parser.parse(reinterpret_cast<const char*>(data), size).get(message) != simdjson::SUCCESS) return 0;
  omt::ometria::DestinationConfig config{"fuzz-key", "EXPLICITLY_OPTEDIN", true, false, std::nullopt};
  auto record = transformer->transform(message, config);
  if (record) {
    // The record must itself be valid JSON. (Checked with nlohmann, not simdjson: JSON.stringify writes integers
    // up to 1e21 without an exponent, e.g. 27777777777777780000, which simdjson 3.0 refuses as a number over 64 bits.)
    if (!nlohmann::json::accept(record->json)) std::abort();
  } else if (record.error().message.empty()) {
    std::abort();
  }
  (void)transformer->record_type_of(message);
  return 0;
}
