// The delivery proxy (contract section 6), reading Ometria's real success body.
#include "omt/core/text.hpp"
#include "omt/protocol/proxy.hpp"

#include "json/out_value.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/ometria/transformer.hpp"
#include "protocol/json_body.hpp"

namespace omt::protocol {
namespace dom = simdjson::dom;

namespace {

std::optional<dom::element> member(dom::element obj, std::string_view key) {
  dom::element value;
  if (!obj.is_object() || obj.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::string compact(dom::element e) {
  std::string out;
  json::write(out, e);
  return out;
}

Error bad_request(std::string message) { return Error{errc::invalid_request, std::move(message), ""}; }

}  // namespace

SeenAnswer seen_answer(const delivery::PushOutcome& outcome) {
  if (outcome.has_answer()) return {true, outcome.answer.status, outcome.answer.body};
  SeenAnswer s;
  s.status = *outcome.network_error == delivery::NetworkError::overloaded ? 429 : 500;
  s.body = std::string(delivery::to_string(*outcome.network_error));
  if (!outcome.error_detail.empty()) s.body += ": " + outcome.error_detail;
  return s;
}

namespace {

// The response headers known to the sender, lower-case, as rudder-transformer passes them on.
std::vector<std::pair<std::string_view, std::string_view>> seen_headers(const delivery::PushOutcome& outcome) {
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  if (!outcome.has_answer()) return headers;
  const auto& a = outcome.answer;
  if (a.retry_after) headers.emplace_back("retry-after", *a.retry_after);
  if (a.queue_size_limit) headers.emplace_back("x-queuesize-limit", *a.queue_size_limit);
  if (a.queue_size_remaining) headers.emplace_back("x-queuesize-remaining", *a.queue_size_remaining);
  return headers;
}

// How rudder-server should treat the delivery.
struct Verdict {
  bool success = false;
  int status = 200;  // output.status (and v0's HTTP status)
  std::string_view error_type;  // retryable | throttled | aborted (failures only)
  std::string message;
};

Verdict judge(const SeenAnswer& outcome, const std::optional<ometria::PushReceipt>& receipt) {
  const int s = outcome.status;
  if (outcome.answered && s >= 200 && s < 300) {
    // Ometria's success body: a 2xx means received and authenticated; its counts say what it refused.
    if (const auto& push = receipt) {
      if (!push->status.empty() && !push->ok())
        return {false, 400, "aborted", "[Ometria Response Handler] Request failed for Ometria: status \"" + push->status + "\""};
      if (push->rejected && *push->rejected > 0) {
        const std::int64_t total = push->rejected.value() + push->accepted.value_or(0);
        std::string message = "[Ometria Response Handler] " + std::to_string(*push->rejected) + " of " +
                              std::to_string(total) + " records rejected by Ometria";
        if (!push->request_id.empty()) message += " (request_id " + push->request_id + ")";
        return {false, 400, "aborted", std::move(message)};
      }
    }
    return {true, s, "", "[Generic Response Handler] Request for destination: ometria Processed Successfully"};
  }
  Verdict v;
  v.status = s == 404 ? 400 : s;
  v.error_type = s >= 500 ? "retryable" : s == 429 ? "throttled" : "aborted";
  v.message = "[Generic Response Handler] Request failed for destination ometria with status: " + std::to_string(s);
  return v;
}

// The destination's body as rudder-transformer holds it: parsed JSON when it is JSON, otherwise the text.
std::string response_value(const SeenAnswer& outcome) {
  std::string out;
  if (outcome.answered && !outcome.body.empty()) {
    BodyParser parser;
    if (auto parsed = parser.parse(outcome.body)) {
      json::write(out, *parsed);
      return out;
    }
  }
  json::write_string(out, outcome.body);
  return out;
}

void write_stat_tags(std::string& out, const ProxyRequest& request, std::string_view error_type) {
  out += R"({"errorCategory":"network","errorType":)";
  json::write_string(out, error_type);
  out += R"(,"destType":"OMETRIA","module":"destination","implementation":"native","feature":"dataDelivery")";
  if (request.destination_id) out += ",\"destinationId\":" + *request.destination_id;
  if (request.workspace_id) out += ",\"workspaceId\":" + *request.workspace_id;
  out += '}';
}

}  // namespace

Expected<ProxyRequest> parse_proxy_request(std::string_view body, ProxyVersion version, std::size_t readable_bytes) {
  BodyParser parser;
  auto root = parser.parse(body, readable_bytes);
  if (!root) return tl::unexpected(root.error());
  if (!root->is_object())
    return tl::unexpected(bad_request("Expected a proxy request object, got " + std::string(json::type_name(*root))));

  ProxyRequest request;
  if (const auto endpoint = member(*root, "endpoint")) {
    if (!endpoint->is_string()) return tl::unexpected(bad_request("endpoint must be a string"));
    request.endpoint = std::string(endpoint->get_string().value_unsafe());
  }
  if (const auto headers = member(*root, "headers"); headers && headers->is_object()) {
    for (auto field : json::as_object(*headers)) {
      if (!text::iequals(field.key, "X-Ometria-Auth")) continue;
      if (!field.value.is_string()) return tl::unexpected(bad_request("headers.X-Ometria-Auth must be a string"));
      request.api_key = std::string(field.value.get_string().value_unsafe());
    }
  }
  std::optional<dom::element> batch;
  if (const auto payload = member(*root, "body"))
    if (const auto json_array = member(*payload, "JSON_ARRAY")) batch = member(*json_array, "batch");
  if (!batch || !batch->is_string())
    return tl::unexpected(bad_request("body.JSON_ARRAY.batch is required: the push body as a JSON string"));
  request.body = std::string(batch->get_string().value_unsafe());

  const auto metadata = member(*root, "metadata");
  std::optional<dom::element> first;
  if (version == ProxyVersion::v1) {
    if (metadata && !metadata->is_array()) return tl::unexpected(bad_request("metadata must be an array (proxy v1)"));
    if (metadata)
      for (dom::element m : json::as_array(*metadata)) {
        if (!first) first = m;
        request.metadata.push_back(compact(m));
      }
  } else if (metadata && !metadata->is_null()) {
    first = metadata;
    request.metadata.push_back(compact(*metadata));
  }
  if (first) {
    if (const auto id = member(*first, "destinationId")) request.destination_id = compact(*id);
    if (const auto id = member(*first, "workspaceId")) request.workspace_id = compact(*id);
  }
  return request;
}

ProxyPushShape proxy_push_shape(std::string_view push_body) {
  ProxyPushShape shape;
  BodyParser parser;
  auto root = parser.parse(push_body);
  if (!root || !root->is_array()) return shape;
  for (dom::element record : json::as_array(*root)) {
    ++shape.records;
    if (shape.type) continue;
    if (const auto type = member(record, "@type"); type && type->is_string())
      shape.type = ometria::record_type_from(type->get_string().value_unsafe());
  }
  return shape;
}

bool proxy_endpoint_allowed(std::string_view requested, std::string_view configured) {
  return requested.empty() || requested == configured || requested == ometria::push_endpoint;
}

Reply proxy_reply(const ProxyRequest& request, const delivery::PushOutcome& pushed, ProxyVersion version) {
  const SeenAnswer outcome = seen_answer(pushed);
  const Verdict verdict = judge(outcome, pushed.answer.receipt);
  const std::string response = response_value(outcome);
  Reply reply;
  std::string& out = reply.body;
  if (version == ProxyVersion::v0) {
    reply.status = verdict.success ? 200 : verdict.status;
    out = "{\"output\":{\"status\":" + std::to_string(verdict.status) + ",\"message\":";
    json::write_string(out, verdict.message);
    out += ",\"destinationResponse\":{\"response\":" + response + ",\"status\":" + std::to_string(outcome.status) +
           ",\"headers\":{";
    const auto headers = seen_headers(pushed);
    for (std::size_t i = 0; i < headers.size(); ++i) {
      if (i) out += ',';
      json::write_string(out, headers[i].first);
      out += ':';
      json::write_string(out, headers[i].second);
    }
    out += "}}";
  } else {
    reply.status = 200;
    // "error" holds the destination's body, stringified, even on success (rudder-transformer does so).
    std::string error;
    json::write_string(error, response);
    out = "{\"output\":{\"response\":[";
    for (std::size_t i = 0; i < request.metadata.size(); ++i) {
      if (i) out += ',';
      out += "{\"error\":" + error + ",\"statusCode\":" + std::to_string(verdict.status) +
             ",\"metadata\":" + request.metadata[i] + '}';
    }
    out += "],\"status\":" + std::to_string(verdict.status) + ",\"message\":";
    json::write_string(out, verdict.message);
  }
  if (!verdict.success) {
    out += ",\"statTags\":";
    write_stat_tags(out, request, verdict.error_type);
  }
  out += "}}";
  return reply;
}

Reply proxy_error(const Error& error) { return error_reply(http_status(error.code), error.message); }

}  // namespace omt::protocol
