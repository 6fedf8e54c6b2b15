// libFuzzer: any bytes as an ingest request (/v1/webhook, /v1/identify, /v1/track, /v1/batch), plain or sent
// with Content-Encoding gzip / deflate. The first byte picks the route and the coding, the rest is the body.
// Must never crash, never decode past its limit, and always answer a JSON body with a status.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"
#include "omt/protocol/content_encoding.hpp"
#include "omt/protocol/ingest.hpp"

namespace {

void check(const omt::protocol::Reply& reply) {
  if (reply.status < 200 || reply.status > 599) std::abort();
  if (!nlohmann::json::accept(reply.body)) std::abort();  // nlohmann: see fuzz_transform.cpp on big integers
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace omt::protocol;
  static const auto transformer = omt::ometria::Transformer::load(omt::test::project_mappings_dir());
  if (!transformer) std::abort();
  if (size == 0) return 0;
  constexpr IngestRoute routes[] = {IngestRoute::webhook, IngestRoute::identify, IngestRoute::track, IngestRoute::batch};
  constexpr ContentCoding codings[] = {ContentCoding::identity, ContentCoding::gzip, ContentCoding::deflate};
  const IngestRoute route = routes[data[0] % 4];
  const ContentCoding coding = codings[(data[0] / 4) % 3];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  constexpr std::size_t max_decoded = 256 * 1024;
  auto decoded = decode_body(coding, body, max_decoded, 64);
  if (!decoded) {
    check(ingest_error(decoded.error()));
    return 0;
  }
  if (decoded->size() > max_decoded) std::abort();

  omt::config::SourceConfig source;
  source.name = "fuzz";
  source.destination.api_key = "fuzz-key";
  IngestLimits limits;
  limits.max_events_per_request = 1000;
  // Stamped as the server stamps (the gateway's fields), half of the time: both paths are fuzzed.
  const Arrival arrival{std::chrono::system_clock::time_point(std::chrono::hours(475'000)), "203.0.113.9", "anon", "fuzz"};
  auto result = ingest_events(route, *decoded, *transformer, source, limits, decoded->capacity(),
                              data[0] & 0x80 ? &arrival : nullptr);
  if (!result) {
    check(ingest_error(result.error()));
    return 0;
  }
  check(ingest_answer(*result));
  check(dry_run_answer(*result, source.destination.api_key, limits, [](std::string_view) { return std::string("key:fuzz"); }));
  return 0;
}
