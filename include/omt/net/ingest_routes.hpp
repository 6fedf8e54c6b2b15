// The routes that take events in (/v1/webhook, /v1/identify, /v1/track, /v1/batch) and the delivery proxy for
// rudder-server (/v0|v1/destinations/{name}/proxy). An ingest answer 200 is sent only once the accepted records
// are durable in the queue; the pure parts are in omt/protocol/ (ingest_credentials.hpp: who is sending;
// ingest.hpp: body shapes and answers; proxy.hpp), what is logged and counted in omt/obs/ingest_events.hpp.
// docs/ingest.md describes every status code and why.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "omt/config/config.hpp"
#include "omt/net/router.hpp"
#include "omt/protocol/ingest.hpp"
#include "omt/protocol/proxy.hpp"

namespace omt::delivery {
class Sender;
}
namespace omt::ometria {
class Transformer;
}
namespace omt::queue {
class Queue;
}
namespace omt::obs {
class Registry;
}

namespace omt::net {

struct IngestContext {
  std::shared_ptr<const ometria::Transformer> transformer;
  // Where accepted records go. Null: every ingest request but a dry run answers 503. Not owned: it must outlive
  // the server (shut the server down before destroying the queue).
  queue::Queue* queue = nullptr;
  std::vector<config::SourceConfig> sources;
  protocol::IngestLimits limits;
  // Called once per request whose records became durable, just before its 200 is handed to the connection,
  // on the queue's writer thread: it must be quick and must not call back into the queue (wake a loop instead).
  std::function<void()> notify;
  // Optional: omt_ingest_events_total{outcome="accepted"|"rejected"} (accepted counted once durable; dry runs not counted).
  obs::Registry* metrics = nullptr;
  // Runs a call after a delay, off the server's threads (DelayedCalls::after); used to hold answers back while
  // the queue is over limits.slow_down_from. Null: answers are never held back.
  std::function<void(std::chrono::milliseconds, std::function<void()>)> run_later;
  // config.ingest.trusted_proxies: peers whose X-Forwarded-For names the client (protocol::resolve_client_ip).
  std::vector<ip::Network> trusted_proxies;
  // The arrival time stamped on events (protocol::gateway_stamp). Null: the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// POST /v1/webhook, /v1/identify, /v1/track, /v1/batch.
void register_ingest_routes(Router& router, IngestContext context);

// A push the proxy made and what became of it (for the request log).
struct ProxiedPush {
  std::string_view api_key;
  protocol::ProxyPushShape shape;
  const delivery::PushOutcome& outcome;
  std::chrono::milliseconds took;  // from sending the push to its end
};

struct ProxyContext {
  // The push client (make_https_sender with config.ometria's timeouts, CA and allow_plain_http). Shared: the
  // routes keep it alive; its io_context must run for as long as the server does.
  std::shared_ptr<delivery::Sender> sender;
  // config.ometria.endpoint: every proxied push goes here and nowhere else.
  std::string endpoint;
  // Optional: told of every push made, before its reply (service::proxy_request_logger). On the sender's thread:
  // quick, never waiting.
  std::function<void(const ProxiedPush&)> on_pushed;
};

// POST /v0/destinations/{name}/proxy and /v1/destinations/{name}/proxy (contract section 6).
void register_proxy_routes(Router& router, ProxyContext context);

}  // namespace omt::net
