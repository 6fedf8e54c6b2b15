// The ingest routes by name: their paths and which credential each takes (protocol/ingest_credentials.hpp).
#pragma once

#include <string_view>

namespace omt::protocol {

enum class IngestRoute {
  webhook,   // POST /v1/webhook: one event object, or a JSON array of them (RudderStack (HTTP) Webhook destination)
  identify,  // POST /v1/identify: one event; "type" defaults to "identify" (RudderStack / Segment HTTP API)
  track,     // POST /v1/track: one event; "type" defaults to "track"
  batch,     // POST /v1/batch: {"batch":[events]}
  beacon,    // POST /beacon/v1/batch?writeKey=KEY: as batch, for navigator.sendBeacon (text/plain, no headers)
  page,      // POST /v1/page, /v1/screen, /v1/group, /v1/alias: one event of that type (default), which
  screen,    // Ometria has no record for: accepted and skipped (ingest.hpp, skipped_call_types)
  group,
  alias,
};
std::string_view path_of(IngestRoute route);  // "/v1/webhook", ...
// Every ingest route, in registration order.
inline constexpr IngestRoute all_ingest_routes[] = {IngestRoute::webhook, IngestRoute::identify, IngestRoute::track,
                                                    IngestRoute::batch, IngestRoute::beacon, IngestRoute::page,
                                                    IngestRoute::screen, IngestRoute::group, IngestRoute::alias};
// The HTTP API routes take the write key (Basic auth; the beacon's in ?writeKey=); the webhook takes the webhook
// token.
constexpr bool uses_write_key(IngestRoute route) { return route != IngestRoute::webhook; }

}  // namespace omt::protocol
