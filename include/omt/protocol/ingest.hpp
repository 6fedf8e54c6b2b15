// The ingest endpoints without HTTP types: who is sending (a source found by write key or webhook token, compared
// in constant time), what they sent (the body shapes of /v1/webhook, /v1/identify, /v1/track and /v1/batch), what
// each event becomes (an Ometria record, or the reason it never can), and the JSON answers. Pure; never throws.
// The route glue (net/ingest_routes) adds the queue: see docs/ingest.md for the status codes and why.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/protocol/rudder.hpp"

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

// ---- credentials ------------------------------------------------------------------------------------------------

// True when a == b. Both are hashed (SHA-256) and the digests compared with CRYPTO_memcmp, so the time taken
// depends on neither the contents nor the length of the secret.
bool constant_time_equal(std::string_view a, std::string_view b);

// "Basic base64(user:password)" -> user (the password is ignored: the write key is the user name).
// nullopt when the header is not Basic or the base64 is malformed.
std::optional<std::string> basic_auth_user(std::string_view authorization_header);
// "Bearer <token>" -> token (scheme case-insensitive); nullopt otherwise.
std::optional<std::string_view> bearer_token(std::string_view authorization_header);
// The first value of `name` in the request target's query ("/v1/webhook?token=a%2Bb" -> "a+b"), percent-decoded
// with '+' as space; nullopt when absent.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);
// ?dry_run=true (also 1, yes, or a bare ?dry_run).
bool is_dry_run(std::string_view target);

// The configured sources, looked up by secret. Every lookup compares against every source's secret (digest
// against digest, no early exit), so how long it takes says nothing about which secret, or how much of it,
// matched. Empty secrets never match.
class SourceDirectory {
 public:
  explicit SourceDirectory(std::vector<config::SourceConfig> sources);

  const config::SourceConfig* by_write_key(std::string_view write_key) const;
  const config::SourceConfig* by_webhook_token(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    config::SourceConfig source;
    std::optional<Digest> write_key;
    std::optional<Digest> webhook_token;
  };
  const config::SourceConfig* find(std::string_view secret, std::optional<Digest> Entry::*which) const;
  std::vector<Entry> entries_;
};

// The source that sent a request: for the webhook, "Authorization: Bearer <token>" or ?token=<token>; for the
// HTTP API routes, HTTP Basic with the write key as user name. errc::unauthorized (401) when the credential is
// missing or unknown; the message says which credential the route expects, never the one received.
Expected<const config::SourceConfig*> authenticate(IngestRoute route, const SourceDirectory& sources,
                                                   std::string_view authorization_header, std::string_view target);

// ---- events -----------------------------------------------------------------------------------------------------

struct AcceptedRecord {
  std::size_t index = 0;  // the event's position in the request (0 for a single event)
  ometria::Record record;
};

struct RejectedEvent {
  std::size_t index = 0;
  std::string error;  // why it can never succeed (the transformer's message, or the record size limit)
};

struct IngestResult {
  std::size_t events = 0;
  std::vector<AcceptedRecord> accepted;  // in request order
  std::vector<RejectedEvent> rejected;   // in request order
};

// Parses the body in the route's shape and transforms every event with the source's destination settings.
// Errors (nothing is accepted then): errc::invalid_json (400, "Invalid JSON at byte N: ..."), errc::invalid_request
// (400, says which shape was expected), errc::too_large (413, over limits.max_events_per_request).
// readable_bytes: as for processor_transform (the body is parsed in place when the server reserved padding).
Expected<IngestResult> ingest_events(IngestRoute route, std::string_view body, const ometria::Transformer& transformer,
                                     const ometria::DestinationConfig& destination, const IngestLimits& limits,
                                     std::size_t readable_bytes = 0);

// Segment's HTTP API lets a batch carry "context" and "integrations" beside "batch"; they "will be merged with
// any context inside each of the items". ingest_events applies this rule to each event of a /v1/batch body:
//   * an event without the key (or with null) gets the batch-level object as it is;
//   * an event with an object keeps every key of its own and gains the batch-level keys it lacks. The merge is
//     shallow: the event's own context.traits wins over the batch-level context.traits wholesale;
//   * an event whose value is something else (a string...) keeps it: the event's own value wins.
// Returns the event's JSON with the merge applied (the event's members in their order, then any added key);
// the event unchanged (re-serialised) when there was nothing to add. `batch_level_json` is the batch body, or any
// object holding "context" and/or "integrations" (each an object or null). Errors: errc::invalid_json when
// either text is not JSON, errc::invalid_request naming the batch-level field that is not an object.
Expected<std::string> merge_batch_level_fields(std::string_view event_json, std::string_view batch_level_json);

// ---- answers ----------------------------------------------------------------------------------------------------

// The answer once the accepted records are durable: 200 {"accepted":N,"rejected":[{"index":i,"error":"..."}]}.
// When no event was accepted (every event can never succeed) the same body comes with 400, so RudderStack aborts
// the request instead of counting it delivered, and its senders see the reasons; nothing is stored then.
Reply ingest_answer(const IngestResult& result);
// True when there is something to store (otherwise ingest_answer is final without touching the queue).
inline bool has_records(const IngestResult& result) { return !result.accepted.empty(); }

// A dry run's answer: the records grouped as delivery would batch them (by API key and record type, at most
// limits.max_batch_records to a batch, in order of first appearance):
// {"dry_run":true,"accepted":N,"batches":[{"api_key":"key:<fingerprint>","type":"contact","records":[...]}],
//  "rejected":[...]}, with the status the real request would get (200, or 400 when nothing would be accepted).
// key_name turns an API key into the name shown (the log's fingerprint: the key itself is never echoed).
Reply dry_run_answer(const IngestResult& result, std::string_view api_key, const IngestLimits& limits,
                     const std::function<std::string(std::string_view)>& key_name);

// {"error": message} with the status of the error's code (http_status), for request-level failures.
Reply ingest_error(const Error& error);

}  // namespace omt::protocol
