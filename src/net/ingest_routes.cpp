// Ingest and proxy route glue: authentication, backpressure and the queue / sender around the pure protocol parts.
#include "omt/net/ingest_routes.hpp"
#include "reply_response.hpp"

#include <chrono>
#include <utility>

#include "omt/core/text.hpp"
#include "omt/delivery/sender.hpp"
#include "omt/obs/delivery_events.hpp"
#include "omt/obs/ingest_events.hpp"
#include "omt/obs/product_events.hpp"
#include "omt/obs/log.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/protocol/content_encoding.hpp"
#include "omt/protocol/ingest_cors.hpp"
#include "omt/protocol/proxy.hpp"
#include "omt/queue/queue.hpp"
#include "omt/sources/source_mapper.hpp"

namespace omt::net {

namespace {

struct IngestState {
  std::shared_ptr<const ometria::Transformer> transformer;
  queue::Queue* queue = nullptr;
  protocol::SourceDirectory sources;
  std::vector<std::string> preflight_origins;  // every source's: a preflight has no credentials to pick one by
  protocol::IngestLimits limits;
  std::function<void()> notify;
  std::function<void(std::chrono::milliseconds, std::function<void()>)> run_later;
  std::vector<ip::Network> trusted_proxies;
  std::function<std::chrono::system_clock::time_point()> clock;
  obs::IngestEvents events;
  obs::ProductEvents products;

  Response unavailable(int status, std::string_view message) const {
    Response r = Response::json_error(status, message);
    r.headers.emplace_back("Retry-After", std::to_string(limits.retry_after_seconds));
    return r;
  }
};

// A CORS preflight (OPTIONS) on an ingest route: 204, with the CORS headers when some source allows the Origin.
void handle_preflight(const IngestState& state, const Request& request, const Responder& respond) {
  protocol::CorsAnswer cors = protocol::cors_preflight(state.preflight_origins, request.header("Origin"));
  if (cors.refused) state.events.emit(obs::IngestCorsRefused{request.header("Origin"), /*preflight=*/true});
  Response r;
  r.status = 204;
  r.headers = std::move(cors.headers);
  r.headers.emplace_back("Allow", std::string(protocol::cors_allowed_methods));
  respond(std::move(r));
}

// What the gateway stamps on the request's events: when, from whom (X-Forwarded-For only from trusted proxies).
protocol::Arrival arrival_of(const IngestState& state, const Request& request, const config::SourceConfig& source) {
  std::string forwarded;  // every X-Forwarded-For line, in order, as one list
  for (const auto& [name, value] : request.headers) {
    if (!text::iequals(name, "X-Forwarded-For")) continue;
    if (!forwarded.empty()) forwarded += ',';
    forwarded += value;
  }
  return protocol::Arrival{
      .received_at = state.clock ? state.clock() : std::chrono::system_clock::now(),
      .client_ip = protocol::resolve_client_ip(request.peer_address, forwarded, state.trusted_proxies),
      .anonymous_id_header = std::string(request.header("AnonymousId")),
      .source = source.name};
}

void handle_ingest(const std::shared_ptr<const IngestState>& state, protocol::IngestRoute route, Request& request,
                   const Responder& responder) {
  // Who is sending comes first: an unauthenticated body is never parsed.
  auto source = protocol::authenticate(route, state->sources, request.header("Authorization"), request.target);
  if (!source) {
    Response r = to_response(protocol::ingest_error(source.error()));
    if (protocol::uses_write_key(route)) r.headers.emplace_back("WWW-Authenticate", R"(Basic realm="ometria-transformer")");
    else r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="ometria-transformer")");
    return responder(std::move(r));
  }
  // Every answer from here on, whatever its status, carries the source's CORS headers, so that a browser SDK
  // can read a 429 or 503 and retry.
  protocol::CorsAnswer cors = protocol::cors_actual(**source, request.header("Origin"));
  if (cors.refused) state->events.emit(obs::IngestCorsRefused{request.header("Origin"), /*preflight=*/false});
  const auto respond = [responder, cors_headers = std::move(cors.headers)](Response r) {
    r.headers.insert(r.headers.end(), cors_headers.begin(), cors_headers.end());
    responder(std::move(r));
  };
  const ometria::DestinationConfig& destination = (*source)->destination;
  const bool dry_run = protocol::is_dry_run(request.target);

  // A coding that can never be decoded is refused before backpressure: a retry would not help.
  const auto coding = protocol::parse_content_encoding(request.header("Content-Encoding"));
  if (!coding) {
    Response r = to_response(protocol::ingest_error(coding.error()));
    r.headers.emplace_back("Accept-Encoding", std::string(protocol::accepted_content_codings));  // RFC 7694
    return respond(std::move(r));
  }

  // Backpressure before any work: RudderStack and the SDKs retry 429 and 503. Live records only: an import's
  // backfill, however large, never makes ingest refuse (queue::Queue::over_high_water).
  if (!dry_run) {
    if (state->queue == nullptr)
      return respond(state->unavailable(503, "No queue is configured: events cannot be stored (dry runs still work)"));
    if (state->queue->over_high_water())
      return respond(state->unavailable(429, "The queue is over its high-water mark: retry later"));
  }

  // The RudderStack Node SDK gzips every batch. Decoded within the limit of a plain body, so a small compressed
  // body cannot expand past it (413).
  if (*coding != protocol::ContentCoding::identity) {
    auto decoded = protocol::decode_body(*coding, request.body, state->limits.max_decoded_body_bytes, body_padding);
    if (!decoded) return respond(to_response(protocol::ingest_error(decoded.error())));
    state->events.emit(obs::IngestBodyDecoded{protocol::to_string(*coding), request.body.size(), *decoded});
    request.body = std::move(*decoded);
  }

  const protocol::Arrival arrival = arrival_of(*state, request, **source);
  auto result = protocol::ingest_events(route, request.body, *state->transformer, **source, state->limits,
                                        request.body.capacity(), &arrival);
  if (!result) return respond(to_response(protocol::ingest_error(result.error())));

  if (dry_run)
    return respond(to_response(protocol::dry_run_answer(*result, destination.api_key, state->limits,
                                                         [](std::string_view key) { return obs::key_fingerprint(key); })));
  state->events.emit(obs::IngestEventsRejected{result->rejected.size()});
  for (const auto& [outcome, events] : protocol::skipped_by_outcome(*result))
    state->events.emit(obs::IngestEventsSkipped{events, outcome});

  protocol::Reply answer = protocol::ingest_answer(*result);
  if (!protocol::has_anything_to_store(*result)) return respond(to_response(std::move(answer)));

  queue::IngestWrite write;
  write.records.reserve(result->accepted.size());
  std::vector<sources::IncompleteProduct> incomplete;  // told once they are stored
  for (auto& accepted : result->accepted) {
    write.records.push_back(queue::NewRecord{destination.api_key, accepted.record.type, std::move(accepted.record.json)});
    if (accepted.incomplete_product) incomplete.push_back(std::move(*accepted.incomplete_product));
  }
  // The client handed these over too: kept, with why, for `dead-letter replay --events` once the mapping or
  // setting that refused them is fixed. Items that are not events at all have nothing to keep.
  for (auto& rejected : result->rejected) {
    if (!protocol::is_event(rejected)) continue;
    write.rejected.push_back(queue::NewRejectedEvent{(*source)->name, std::string(protocol::path_of(route)),
                                                     rejected.error, std::move(rejected.event)});
  }
  const std::size_t count = write.records.size();
  const std::size_t kept = write.rejected.size();

  // One write per request: its accepted records and rejected events become durable together, or none does.
  state->queue->store(std::move(write), [state, respond, count, kept, answer = std::move(answer),
                                            incomplete = std::move(incomplete), source_name = (*source)->name](
                                            Expected<queue::IngestStored> stored) {
    if (!stored) {
      state->events.emit(obs::IngestQueueRefused{count, stored.error().message});
      const int status = stored.error().code == errc::too_large ? 413 : 503;
      if (status == 413) return respond(to_response(protocol::ingest_error(stored.error())));
      return respond(state->unavailable(status, "The queue could not store the events: retry later"));
    }
    state->events.emit(obs::IngestQueueStored{});
    state->events.emit(obs::IngestRejectedEventsKept{kept});
    state->events.emit(obs::IngestRejectedEventsDropped{stored->rejected_dropped});
    if (count == 0) return respond(to_response(answer));  // nothing for delivery, nor for the slow-down
    state->events.emit(obs::IngestRecordsStored{count});
    for (const auto& product : incomplete)
      state->products.emit(obs::ProductIncomplete{source_name, product.id, product.missing});
    if (state->notify) state->notify();
    const auto hold = state->run_later ? protocol::ingest_slow_down(state->queue->lane_depth(queue::Lane::live),
                                                                  state->queue->high_water_mark(), state->limits)
                                       : std::chrono::milliseconds(0);
    if (hold.count() == 0) return respond(to_response(answer));
    // The records are stored; only the answer waits, so that this sender's next request comes later.
    state->events.emit(obs::IngestAnswerHeld{});
    state->run_later(hold, [respond, reply = to_response(answer)]() mutable { respond(std::move(reply)); });
  });
}

// ---- proxy ------------------------------------------------------------------------------------------------------

void handle_proxy(const std::shared_ptr<const ProxyContext>& context, protocol::ProxyVersion version, Request& request,
                  const Responder& respond) {
  const std::string_view name = request.param("name");
  if (!protocol::is_known_destination(name)) return respond(to_response(protocol::unknown_destination(name)));
  auto parsed = protocol::parse_proxy_request(request.body, version, request.body.capacity());
  if (!parsed) return respond(to_response(protocol::proxy_error(parsed.error())));
  if (!protocol::proxy_endpoint_allowed(parsed->endpoint, context->endpoint))
    return respond(to_response(protocol::proxy_error(
        Error{errc::invalid_request,
              "endpoint " + parsed->endpoint + " is not the configured Ometria endpoint: the proxy sends only there",
              "endpoint"})));

  // Read only for the request log: the push goes as it came.
  const auto shape = context->on_pushed ? protocol::proxy_push_shape(parsed->body) : protocol::ProxyPushShape{};
  delivery::PushRequest push{context->endpoint, parsed->api_key, std::move(parsed->body)};
  auto pending = std::make_shared<protocol::ProxyRequest>(std::move(*parsed));
  const auto sent = std::chrono::steady_clock::now();
  context->sender->send(std::move(push), [context, pending, shape, sent, version, respond](delivery::PushOutcome outcome) {
    if (context->on_pushed) {
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
      context->on_pushed(ProxiedPush{pending->api_key, shape, outcome, took});
    }
    const protocol::SeenAnswer seen = protocol::seen_answer(outcome);
    obs::emit(obs::ProxyPushAnswered{pending->api_key, seen.status,
                                     seen.answered ? std::nullopt : std::optional<std::string_view>(seen.body)});
    respond(to_response(protocol::proxy_reply(*pending, outcome, version)));
  });
}

}  // namespace

void register_ingest_routes(Router& router, IngestContext context) {
  auto state = std::make_shared<IngestState>(IngestState{.transformer = std::move(context.transformer),
                                                         .queue = context.queue,
                                                         .sources = protocol::SourceDirectory(context.sources),
                                                         .preflight_origins = protocol::preflight_origins(context.sources),
                                                         .limits = context.limits,
                                                         .notify = std::move(context.notify),
                                                         .run_later = std::move(context.run_later),
                                                         .trusted_proxies = std::move(context.trusted_proxies),
                                                         .clock = std::move(context.clock),
                                                         .events = obs::IngestEvents(context.metrics, sources::skip_outcomes),
                                                         .products = obs::ProductEvents(context.metrics)});
  std::shared_ptr<const IngestState> shared = std::move(state);
  for (auto route : protocol::all_ingest_routes) {
    router.add(Method::post, protocol::path_of(route),
               [shared, route](Request& request, Responder respond) { handle_ingest(shared, route, request, respond); });
    router.add(Method::options, protocol::path_of(route),
               [shared](Request& request, Responder respond) { handle_preflight(*shared, request, respond); });
  }
}

void register_proxy_routes(Router& router, ProxyContext context) {
  auto shared = std::make_shared<const ProxyContext>(std::move(context));
  router.add(Method::post, "/v0/destinations/{name}/proxy", [shared](Request& request, Responder respond) {
    handle_proxy(shared, protocol::ProxyVersion::v0, request, respond);
  });
  router.add(Method::post, "/v1/destinations/{name}/proxy", [shared](Request& request, Responder respond) {
    handle_proxy(shared, protocol::ProxyVersion::v1, request, respond);
  });
}

}  // namespace omt::net
