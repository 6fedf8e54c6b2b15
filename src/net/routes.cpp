#include "omt/net/routes.hpp"
#include "reply_response.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "omt/error.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/obs/transform_events.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/protocol/rudder.hpp"

namespace omt::net {

namespace {

obs::EventKind kind_of(const std::optional<ometria::RecordType>& type) {
  if (!type) return obs::EventKind::other;
  switch (*type) {
    case ometria::RecordType::contact: return obs::EventKind::identify;
    case ometria::RecordType::order: return obs::EventKind::order;
    case ometria::RecordType::custom_event: return obs::EventKind::custom_event;
    case ometria::RecordType::product: break;  // only a source's own mapping makes products, never these routes
  }
  return obs::EventKind::other;
}

void emit_outcomes(obs::TransformEvents& events, const protocol::EventTally& tally) {
  for (const auto& outcome : tally.events) {
    if (outcome.error) events.emit(obs::EventRejected{kind_of(outcome.type), *outcome.error});
    else events.emit(obs::EventTransformed{kind_of(outcome.type)});
  }
}

protocol::BodyForm body_form_of(const Request& request) {
  return protocol::body_form_of(request.header(protocol::content_format_header));
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

void add_operational_routes(Router& router, obs::Registry& metrics, ServiceInfo info,
                            std::vector<HealthCheck> health_checks) {
  router.add(Method::get, "/health", [checks = std::move(health_checks)](Request&, Responder respond) {
    if (checks.empty()) return respond(json_response(200, R"({"status":"ok"})"));
    nlohmann::json results = nlohmann::json::object();
    bool all_ok = true;
    std::string degraded;  // the details of the failing checks that only degrade
    for (const auto& c : checks) {
      HealthFacts facts;
      std::string detail;
      const bool ok = c.check(detail, facts);
      if (!ok && c.degrades) degraded += (degraded.empty() ? "" : "; ") + (detail.empty() ? c.name : detail);
      else all_ok = all_ok && ok;
      nlohmann::json entry = {{"ok", ok}};
      if (!detail.empty()) entry["detail"] = detail;
      for (auto& [name, text] : facts.texts) entry[name] = std::move(text);
      for (const auto& [name, number] : facts.numbers) entry[name] = number;
      results[c.name] = std::move(entry);
    }
    const char* status = !all_ok ? "unavailable" : degraded.empty() ? "ok" : "degraded";
    nlohmann::json body = {{"status", status}};
    if (all_ok && !degraded.empty()) body["reason"] = degraded;
    body["checks"] = std::move(results);
    respond(json_response(all_ok ? 200 : 503, body.dump()));
  });

  const std::string version_body = nlohmann::json{{"name", info.name}, {"version", info.version}}.dump();
  router.add(Method::get, "/version", [version_body](Request&, Responder respond) {
    respond(json_response(200, version_body));
  });

  router.add(Method::get, "/metrics", [&metrics](Request&, Responder respond) {
    Response r = json_response(200, metrics.render_prometheus());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    respond(std::move(r));
  });
}

void add_transformer_routes(Router& router, std::shared_ptr<const ometria::Transformer> transformer,
                            obs::Registry& metrics) {
  auto events = std::make_shared<obs::TransformEvents>(metrics);

  router.add(Method::post, "/v0/destinations/{name}", [transformer, events](Request& request, Responder respond) {
    const std::string_view name = request.param("name");
    if (!protocol::is_known_destination(name)) return respond(to_response(protocol::unknown_destination(name)));
    protocol::EventTally tally;
    protocol::Reply reply = protocol::processor_transform(request.body, *transformer, &tally, request.body.capacity(),
                                                          body_form_of(request));
    emit_outcomes(*events, tally);
    respond(to_response(std::move(reply)));
  });

  router.add(Method::post, "/routerTransform", [transformer, events](Request& request, Responder respond) {
    protocol::EventTally tally;
    protocol::Reply reply = protocol::router_transform(request.body, *transformer, &tally, request.body.capacity(),
                                                       body_form_of(request));
    emit_outcomes(*events, tally);
    respond(to_response(std::move(reply)));
  });

  const std::string features = protocol::features_json();
  router.add(Method::get, "/features", [features](Request&, Responder respond) {
    respond(json_response(200, features));
  });
}

}  // namespace omt::net
