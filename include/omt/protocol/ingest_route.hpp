// The ingest routes by name: their paths and which credential each takes (protocol/ingest_credentials.hpp).
#pragma once

#include <string_view>

namespace omt::protocol {

enum class IngestRoute {
  webhook,   // POST /v1/webhook: one event object, or a JSON array of them (RudderStack (HTTP) Webhook destination)
  identify,  // POST /v1/identify: one event; "type" defaults to "identify" (RudderStack / Segment HTTP API)
  track,     // POST /v1/track: one event; "type" defaults to "track"
  batch,     // POST /v1/batch: {"batch":[events]}
};
std::string_view path_of(IngestRoute route);  // "/v1/webhook", ...
// Basic-auth routes (identify, track, batch) take the write key; the webhook takes the webhook token.
constexpr bool uses_write_key(IngestRoute route) { return route != IngestRoute::webhook; }

}  // namespace omt::protocol
