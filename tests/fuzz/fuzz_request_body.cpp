// libFuzzer: any bytes as a request body for every body-taking route (processor, router), in both body forms
// (expanded, and rudder-server's json+compactedv1). Must never crash; the
// reply is always a JSON body with a status.
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/rudder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  if (!transformer) std::abort();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  omt::protocol::EventTally tally;
  using omt::protocol::BodyForm;
  for (const auto& reply : {omt::protocol::processor_transform(body, *transformer, &tally),
                            omt::protocol::router_transform(body, *transformer, &tally),
                            omt::protocol::processor_transform(body, *transformer, &tally, 0, BodyForm::compacted_v1),
                            omt::protocol::router_transform(body, *transformer, &tally, 0, BodyForm::compacted_v1)}) {
    if (reply.status < 200 || reply.status > 599) std::abort();
    if (!nlohmann::json::accept(reply.body)) std::abort();  // nlohmann: see fuzz_transform.cpp on big integers
  }
  return 0;
}
