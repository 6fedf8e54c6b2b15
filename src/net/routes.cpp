#include "omt/net/routes.hpp"
#include "reply_response.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "omt/error.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/protocol/rudder.hpp"

namespace omt::net {

namespace {

// EventTally's fixed indexes -> counters registered once.
class TransformMetrics {
 public:
  explicit TransformMetrics(obs::Registry& registry) {
    static constexpr std::array<const char*, 4> kinds = {"identify", "order", "custom_event", "other"};
    static constexpr std::array<const char*, 2> outcomes = {"ok", "failed"};
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      for (std::size_t o = 0; o < outcomes.size(); ++o) {
        events_[k][o] = &registry.counter("omt_events_total", "Events transformed, by type and outcome",
                                          {{"type", kinds[k]}, {"outcome", outcomes[o]}});
      }
    }
    for (int code = static_cast<int>(errc::instrumentation); code <= static_cast<int>(errc::invalid_config); ++code) {
      errors_[static_cast<std::size_t>(code)] =
          &registry.counter("omt_event_errors_total", "Events that failed, by error class",
                            {{"class", std::string(to_string(static_cast<errc>(code)))}});
    }
  }

  void add(const protocol::EventTally& tally) {
    for (std::size_t k = 0; k < events_.size(); ++k) {
      for (std::size_t o = 0; o < 2; ++o) {
        if (tally.events[k][o] != 0) events_[k][o]->inc(tally.events[k][o]);
      }
    }
    for (std::size_t i = 0; i < errors_.size() && i < tally.errors.size(); ++i) {
      if (tally.errors[i] != 0 && errors_[i] != nullptr) errors_[i]->inc(tally.errors[i]);
    }
  }

 private:
  std::array<std::array<obs::Counter*, 2>, 4> events_{};
  std::array<obs::Counter*, 16> errors_{};
};

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
    for (const auto& c : checks) {
      std::string detail;
      const bool ok = c.check(detail);
      all_ok = all_ok && ok;
      nlohmann::json entry = {{"ok", ok}};
      if (!detail.empty()) entry["detail"] = detail;
      results[c.name] = std::move(entry);
    }
    nlohmann::json body = {{"status", all_ok ? "ok" : "unavailable"}, {"checks", std::move(results)}};
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
  auto counts = std::make_shared<TransformMetrics>(metrics);

  router.add(Method::post, "/v0/destinations/{name}", [transformer, counts](Request& request, Responder respond) {
    const std::string_view name = request.param("name");
    if (!protocol::is_known_destination(name)) return respond(to_response(protocol::unknown_destination(name)));
    protocol::EventTally tally;
    protocol::Reply reply = protocol::processor_transform(request.body, *transformer, &tally, request.body.capacity());
    counts->add(tally);
    respond(to_response(std::move(reply)));
  });

  router.add(Method::post, "/routerTransform", [transformer, counts](Request& request, Responder respond) {
    protocol::EventTally tally;
    protocol::Reply reply = protocol::router_transform(request.body, *transformer, &tally, request.body.capacity());
    counts->add(tally);
    respond(to_response(std::move(reply)));
  });

  const std::string features = protocol::features_json();
  router.add(Method::get, "/features", [features](Request&, Responder respond) {
    respond(json_response(200, features));
  });
}

}  // namespace omt::net
