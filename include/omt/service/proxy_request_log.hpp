// The delivery proxy's pushes (net::ProxyContext::on_pushed) in the queue's request log, beside delivery's own:
// lane live, source "rudderstack-proxy" (a proxy request names a key, not a source), the type of the push's first
// record. Fire-and-forget, as delivery's entries: a failed write is counted (omt_request_log_write_failures_total)
// and logged, and never changes the proxy's reply.
#pragma once

#include <functional>
#include <string_view>

#include "omt/net/ingest_routes.hpp"

namespace omt::queue {
class RequestLog;
}
namespace omt::obs {
class Registry;
}

namespace omt::service {

// The source the request log shows for the proxy's pushes (`requests --source rudderstack-proxy` lists them).
inline constexpr std::string_view proxy_request_log_source = "rudderstack-proxy";

// `log` and `metrics` must outlive every call of the function returned (the server, which holds it, stops first).
std::function<void(const net::ProxiedPush&)> proxy_request_logger(queue::RequestLog& log, obs::Registry& metrics);

}  // namespace omt::service
