// An in-process `serve` for tests: the real routes (or a custom Router) on 127.0.0.1 port 0 with a config the
// test chooses, plus helpers to wait for a condition with a bound (never a bare sleep).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "omt/config/config.hpp"
#include "omt/net/router.hpp"
#include "omt/net/routes.hpp"
#include "omt/net/server.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/ometria/transformer.hpp"
#include "mapping_dir.hpp"

namespace omt::test {

inline config::ServerConfig test_server_config() {
  config::ServerConfig c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  return c;
}

inline std::shared_ptr<const ometria::Transformer> load_transformer() {
  auto t = ometria::Transformer::load(omt::test::project_mappings_dir());
  if (!t) throw std::runtime_error("cannot load mappings: " + t.error().message);
  return std::make_shared<const ometria::Transformer>(std::move(*t));
}

struct TestServer {
  obs::Registry metrics;
  std::shared_ptr<const ometria::Transformer> transformer;
  std::unique_ptr<net::Server> server;

  // The service's own routes.
  explicit TestServer(config::ServerConfig config = test_server_config()) : transformer(load_transformer()) {
    net::Router router;
    net::add_transformer_routes(router, transformer, metrics);
    net::add_operational_routes(router, metrics, net::ServiceInfo{"ometria-transformer", "test"});
    start(config, std::move(router));
  }
  // A custom route table.
  TestServer(config::ServerConfig config, net::Router router) { start(config, std::move(router)); }

  std::uint16_t port() const { return server->local_endpoint().port; }
  HttpClient client(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return HttpClient("127.0.0.1", port(), timeout);
  }

 private:
  void start(const config::ServerConfig& config, net::Router router) {
    auto started = net::Server::start(config, std::move(router), metrics);
    if (!started) throw std::runtime_error(started.error().message);
    server = std::move(*started);
  }
};

// Waits until `condition` holds, checking every few milliseconds, for at most `limit`.
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace omt::test
