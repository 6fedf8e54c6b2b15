// Delivery as `serve` runs it, wired from the configuration: the SQLite queue (config.queue), the HTTPS sender
// (config.ometria) on a delivery thread of its own, and the DeliveryService. ServiceContext is what ingest routes
// get: the queue to enqueue into, the service to notify() after each durable enqueue, and the configuration.
// It is started only when delivery is configured, so plain rudder-transformer users never get a queue file.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "omt/config/config.hpp"
#include "omt/error.hpp"
#include "omt/net/routes.hpp"

namespace omt::obs {
class Registry;
}
namespace omt::queue {
class Queue;
}

namespace omt::service {

class DeliveryService;

struct ServiceContext {
  queue::Queue& queue;
  DeliveryService& delivery;
  const config::Config& config;
};

class DeliveryStack {
 public:
  // True when config.sources is not empty, or the queue file exists and still holds records (delivered
  // records from an earlier run with sources). Never creates the queue file.
  static Expected<bool> wanted(const config::Config& config);

  // Opens the queue (creating it), makes the sender, starts the delivery thread and the service. Errors: the
  // queue cannot be opened, extra_ca_file cannot be loaded.
  static Expected<std::unique_ptr<DeliveryStack>> start(const config::Config& config, obs::Registry& metrics);

  ~DeliveryStack();  // stop(0) if still running
  DeliveryStack(const DeliveryStack&) = delete;
  DeliveryStack& operator=(const DeliveryStack&) = delete;

  ServiceContext context();
  // /health checks: "queue" (depth, dead letters not read: cheap), "delivery" (held keys by fingerprint;
  // a held key is reported, not failed, so one refused customer key does not make the service unhealthy) and
  // "ometria_errors" (per key fingerprint, the errors Ometria listed after accepting pushes: reported, not failed).
  std::vector<net::HealthCheck> health_checks();

  // Stops delivery (pushes in flight get up to `deadline`), the delivery thread, then closes the queue.
  // True when nothing was cut off. Safe to call more than once.
  bool stop(std::chrono::milliseconds deadline);

  struct Impl;

 private:
  explicit DeliveryStack(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace omt::service
