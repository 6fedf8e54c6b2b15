// Calls run later, on one thread of their own: for holding back an answer (ingest's slow-down) without holding
// a server thread. Calls must be quick (answer a request, post work elsewhere). On destruction every call still
// waiting runs at once, so a held-back request is answered rather than dropped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace omt::net {

class DelayedCalls {
 public:
  DelayedCalls();
  ~DelayedCalls();
  DelayedCalls(const DelayedCalls&) = delete;
  DelayedCalls& operator=(const DelayedCalls&) = delete;

  // Runs call after delay (at once when delay <= 0 or after close(), still on this object's thread). Thread-safe.
  void after(std::chrono::milliseconds delay, std::function<void()> call);
  // Runs every waiting call now, and every later one at once (a server shutting down answers at once).
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace omt::net
