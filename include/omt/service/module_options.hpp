// Every module's options built from the validated Config, in one place: the sender's, delivery's, ingest's and
// the queue's. The defaults live in config (omt/config/config.hpp); the option structs take theirs from there,
// and these functions copy what the configuration says, nothing else.
#pragma once

#include "omt/config/config.hpp"
#include "omt/net/https_sender.hpp"
#include "omt/protocol/ingest.hpp"
#include "omt/queue/postgres_queue.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "omt/service/delivery_service.hpp"

namespace omt::service {

// ometria: timeouts, the in-flight cap (also the idle connections kept), the CA file and plain http.
net::SenderOptions sender_options(const config::Config& config);
// ometria.endpoint and max_in_flight, and the delivery section; the lease outlives every push's timeouts; the
// sources' distinct API keys are the keys whose errors are polled (besides those delivery pushes to), and each
// key's sources are named in the request log.
DeliveryOptions delivery_options(const config::Config& config);
// The ingest section, and server.limits.max_body_bytes for decoded bodies.
protocol::IngestLimits ingest_limits(const config::Config& config);
// The queue section, for each backend (service::open_queue picks the configured one).
queue::SqliteQueueOptions queue_options(const config::Config& config);
queue::PostgresQueueOptions postgres_queue_options(const config::Config& config);

}  // namespace omt::service
