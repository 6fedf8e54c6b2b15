// The one place that turns the queue section into a queue: SQLite at queue.path or PostgreSQL at queue.url
// (queue.backend), for the service and for the operator commands alike, so that no caller names a backend.
#pragma once

#include <memory>
#include <string>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/queue/queue.hpp"

namespace omt::service {

enum class QueueUse {
  service,   // serve: a missing SQLite file is created; this instance's old leases are taken back
  operator_command,  // queue stats, dead-letter ...: beside a running service, nothing created, no lease taken over
};

Expected<std::unique_ptr<queue::Queue>> open_queue(const config::Config& config, QueueUse use);

// How messages and the operator commands' answers name the queue: the SQLite file's path, or the PostgreSQL
// URL with any password left out ("postgresql://omt:***@db/omt").
std::string describe_queue(const config::QueueConfig& queue);
// A PostgreSQL URL or key=value connection string with its password shown as *** (check-config, describe_queue).
std::string url_without_password(const std::string& url);

}  // namespace omt::service
