// The ingest endpoints without HTTP types: what was sent (the body shapes of /v1/webhook, /v1/<type> and
// /v1/batch), what each event becomes (an Ometria record, skipped, or rejected with its reason and kept for
// replay), and the answers.
// Pure; never throws. Who is sending: protocol/ingest_credentials.hpp; the batch-level context merged into each
// event of /v1/batch: protocol/batch_merge.hpp; what rudder-server's gateway would add: protocol/gateway_stamp.hpp.
// The route glue (net/ingest_routes) adds the queue: see docs/ingest.md for the status codes and why.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/protocol/batch_merge.hpp"
#include "omt/protocol/gateway_stamp.hpp"
#include "omt/protocol/ingest_credentials.hpp"
#include "omt/protocol/ingest_route.hpp"
#include "omt/protocol/rudder.hpp"
#include "omt/sources/products.hpp"

namespace omt::protocol {

struct IngestLimits {
  // Built from the configuration by service::ingest_limits; the defaults are the configuration's. A record over
  // Ometria's size limit is refused by the transformer (ometria::check_record_size), like any event it cannot map.
  std::size_t max_events_per_request = config::IngestConfig{}.max_events_per_request;  // more: 413
  std::size_t max_batch_records = ometria::records_per_push;  // a push's size, for dry-run grouping
  std::uint32_t retry_after_seconds =                          // Retry-After of a 429 / 503
      static_cast<std::uint32_t>(config::IngestConfig{}.retry_after.count());
  std::uint64_t slow_down_from = config::IngestConfig{}.slow_down_from;  // see ingest_slow_down (0: never)
  std::chrono::milliseconds max_slow_down = config::IngestConfig{}.max_slow_down;
  // A body sent with Content-Encoding (gzip, deflate) may decompress to at most this many bytes, the limit of a
  // plain body (server.limits.max_body_bytes); past it: 413.
  std::size_t max_decoded_body_bytes = config::ServerLimits{}.max_body_bytes;
};

// How long to hold back an ingest answer while the queue holds `depth` records: 0 below slow_down_from (or
// when it is 0), then rising in proportion to depth, to max_slow_down at the high-water mark. Senders that
// wait for answers (SDKs, rudder-server) so slow down to the pace delivery keeps, well before they get 429s;
// the more the backlog grows, the harder they are held back, so it settles where ingest and delivery match.
std::chrono::milliseconds ingest_slow_down(std::uint64_t depth, std::uint64_t high_water_mark, const IngestLimits& limits);

// ?dry_run=true (also 1, yes, or a bare ?dry_run).
bool is_dry_run(std::string_view target);

// ---- events -----------------------------------------------------------------------------------------------------

struct AcceptedRecord {
  std::size_t index = 0;  // the event's position in the request (0 for a single event)
  ometria::Record record;
  std::optional<sources::IncompleteProduct> incomplete_product;  // sent, but lacking what recommendations need
};

struct RejectedEvent {
  std::size_t index = 0;
  std::string error;  // why it cannot be transformed (the transformer's message, or the record size limit)
  // The event's compact JSON text as it was transformed (a batch's context merged in, the route's type added),
  // which the route stores for replay. Empty for an item that is not an event at all (a number in a batch):
  // it is listed, but there is nothing to keep.
  std::string event;
};
inline bool is_event(const RejectedEvent& rejected) { return !rejected.event.empty(); }

// Call types of the Segment / RudderStack HTTP API that Ometria has no record for (compared case-insensitively):
// accepted and skipped, never refused, so that a stock SDK app calling page() gets no 4xx.
inline constexpr std::string_view skipped_call_types[] = {"page", "screen", "group", "alias"};

struct SkippedEvent {
  std::size_t index = 0;
  std::string type;  // one of skipped_call_types, or the outcome of a source's own skip (sources::Skip)
};

struct IngestResult {
  std::size_t events = 0;
  std::vector<AcceptedRecord> accepted;  // in request order
  std::vector<SkippedEvent> skipped;     // in request order: nothing to store, nothing wrong
  std::vector<RejectedEvent> rejected;   // in request order
};

// The skipped events by the outcome omt_ingest_events_total counts them under: "skipped" for the call types of
// skipped_call_types, a source's own skip's outcome ("no_consent", ...) otherwise; in order of first appearance.
std::vector<std::pair<std::string_view, std::size_t>> skipped_by_outcome(const IngestResult& result);

// Parses the body in the route's shape and maps every event as the source's settings say (sources::map_event:
// rudder-transformer's mapping with the source's destination settings, and the source's own stages around it).
// Errors (nothing is accepted then): errc::invalid_json (400, "Invalid JSON at byte N: ..."), errc::invalid_request
// (400, says which shape was expected), errc::too_large (413, over limits.max_events_per_request).
// readable_bytes: as for processor_transform (the body is parsed in place when the server reserved padding).
// arrival: when given, each event (after the batch-level merge) gets the gateway's stamps first
// (protocol/gateway_stamp.hpp); null: the events are transformed as sent.
Expected<IngestResult> ingest_events(IngestRoute route, std::string_view body, const ometria::Transformer& transformer,
                                     const config::SourceConfig& source, const IngestLimits& limits,
                                     std::size_t readable_bytes = 0, const Arrival* arrival = nullptr);

// ---- answers ----------------------------------------------------------------------------------------------------

// The answer once the accepted records and the rejected events are durable: 200
// {"accepted":N,"rejected":[{"index":i,"error":"..."}]}, with "skipped":M after "accepted" when M > 0 events were
// skipped (calls of skipped_call_types, and events the source's settings do not send). A rejected event is kept (the client handed it over; `dead-letter replay --events`
// transforms it again), so it is answered 200 like an accepted one. Only a request whose every item is not an
// event at all (no event object in it) gets the same body with 400: there is nothing to keep, and a retry
// would be refused again.
Reply ingest_answer(const IngestResult& result);
// True when there is something to store: accepted records or rejected events (otherwise ingest_answer is final
// without touching the queue).
bool has_anything_to_store(const IngestResult& result);

// A stored rejected event transformed again as ingest would now, with today's mappings and the source's settings
// (dead-letter replay --events): its record, nullopt when it is now skipped (a call Ometria has no record for), or
// why it still cannot be. event_json: RejectedEvent::event as it was stored.
Expected<std::optional<ometria::Record>> transform_stored_event(std::string_view event_json,
                                                                const ometria::Transformer& transformer,
                                                                const config::SourceConfig& source);

// A dry run's answer: the records grouped as delivery would batch them (by API key and record type, at most
// limits.max_batch_records to a batch, in order of first appearance):
// {"dry_run":true,"accepted":N,"batches":[{"api_key":"key:<fingerprint>","type":"contact","records":[...]}],
//  "rejected":[...]}, with the status the real request would get (as ingest_answer; "skipped":M likewise).
// Nothing is stored, rejected events neither.
// key_name turns an API key into the name shown (the log's fingerprint: the key itself is never echoed).
Reply dry_run_answer(const IngestResult& result, std::string_view api_key, const IngestLimits& limits,
                     const std::function<std::string(std::string_view)>& key_name);

// {"error": message} with the status of the error's code (http_status), for request-level failures.
Reply ingest_error(const Error& error);

}  // namespace omt::protocol
