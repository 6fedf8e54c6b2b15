// rudder-server's delivery proxy (Router.OMETRIA.transformerProxy=true; contract section 6) without HTTP types:
// the proxy request parsed into what to push, and the push's outcome (delivery::PushOutcome, the sender's) turned
// into the v0 / v1 proxy reply, reading Ometria's receipt ({"status","request_id","accepted","rejected"}).
// Pure; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omt/delivery/push.hpp"
#include "omt/error.hpp"
#include "omt/protocol/rudder.hpp"  // ometria::RecordType

namespace omt::protocol {

enum class ProxyVersion { v0, v1 };

struct ProxyRequest {
  std::string endpoint;   // as requested ("" if absent)
  std::string api_key;    // headers["X-Ometria-Auth"] (any case); "" if absent
  std::string body;       // body.JSON_ARRAY.batch, verbatim: the push body
  std::vector<std::string> metadata;   // compact JSON: v0 its one object (if any), v1 each element of the array
  std::optional<std::string> destination_id;  // compact JSON values from the (first) metadata, for statTags
  std::optional<std::string> workspace_id;
};

// errc::invalid_json / errc::invalid_request (400) for a body that is not a proxy request.
Expected<ProxyRequest> parse_proxy_request(std::string_view body, ProxyVersion version, std::size_t readable_bytes = 0);

// What a proxied push carries, for the request log: its records, and the type of the first one with a known
// "@type" (a push may mix types; the log keeps one). No type: the body is not an array of records.
struct ProxyPushShape {
  std::uint32_t records = 0;
  std::optional<ometria::RecordType> type;
};
ProxyPushShape proxy_push_shape(std::string_view push_body);

// Where a proxy request may go: only to the configured endpoint. A request naming the configured endpoint or
// Ometria's public one (what our router writes) is sent to the configured endpoint; any other URL is refused,
// so the proxy can never be turned into a relay to an arbitrary host (ometria::push_endpoint). An absent endpoint means the configured one.
bool proxy_endpoint_allowed(std::string_view requested, std::string_view configured);

// What rudder-transformer's response handlers see of a push: Ometria's status and body; without an answer a 500
// (429 when the sender is overloaded) whose body describes the failure (it holds no key and no record).
struct SeenAnswer {
  bool answered = false;
  int status = 0;
  std::string body;
};
SeenAnswer seen_answer(const delivery::PushOutcome& outcome);

// The proxy reply. 2xx with Ometria's status "OK" and no rejected record: success. 2xx with rejected > 0, or with
// a status other than "OK": failed as aborted (400, "<M> of <N> records rejected by Ometria"; retrying the
// same records would be rejected again). Otherwise the generic handler's rules: 5xx retryable, 429 throttled,
// other statuses aborted, a 404 answered as 400. No answer (a network failure) is a retryable 500, or a throttled
// 429 when the sender is overloaded, its body the failure's description. v0: the HTTP status is the outcome's
// (200 on success); v1: 200.
// Both carry apiVersion: 2; failures carry statTags (errorCategory "network", feature "dataDelivery").
Reply proxy_reply(const ProxyRequest& request, const delivery::PushOutcome& outcome, ProxyVersion version);

// A request-level error (bad proxy request, endpoint refused): {"error": message} with apiVersion: 2.
Reply proxy_error(const Error& error);

}  // namespace omt::protocol
