// The routes of `ometria-transformer serve`. Operational routes (/health, /version, /metrics) are separate from
// the transformer routes (/v0/destinations/{name}, /routerTransform, /features) so later services can reuse them.
// Handlers are thin: the HTTP-free protocol functions do the work; these add metrics and the apiVersion header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "omt/net/router.hpp"

namespace omt::ometria {
class Transformer;
}
namespace omt::obs {
class Registry;
}

namespace omt::net {

struct ServiceInfo {
  std::string name = "ometria-transformer";
  std::string version;
};

// Facts a check shows in its entry beside "ok" and "detail" (the queue's backend, state and since when).
struct HealthFacts {
  std::vector<std::pair<std::string, std::string>> texts;
  std::vector<std::pair<std::string, std::int64_t>> numbers;
};
// A named check for /health. It returns true when healthy and may fill `detail` and `facts`, from one reading of
// what it checks (so that the status and the facts beside it agree); it must be quick and thread-safe. A check
// that `degrades` only warns: failing, it makes /health "degraded" (still 200), not "unavailable".
struct HealthCheck {
  std::string name;
  std::function<bool(std::string& detail, HealthFacts& facts)> check;
  bool degrades = false;
};

// GET /health: {"status":"ok"} (200), or with checks {"status":"ok"|"degraded"|"unavailable","checks":{name:
// {"ok":.., "detail":.., and its facts}}}: 503 when a check fails, 200 and "degraded" (with "reason": the failing checks' details) when only
// checks that degrade fail. GET /version: {"name":..,"version":..}. GET /metrics: the Prometheus text format.
void add_operational_routes(Router& router, obs::Registry& metrics, ServiceInfo info,
                            std::vector<HealthCheck> health_checks = {});

// POST /v0/destinations/{name}, POST /routerTransform, GET /features. Counts events by type and outcome and
// errors by class in `metrics` (omt_events_total, omt_event_errors_total).
void add_transformer_routes(Router& router, std::shared_ptr<const ometria::Transformer> transformer,
                            obs::Registry& metrics);

}  // namespace omt::net
