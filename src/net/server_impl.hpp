// Internal: what one server's parts share. Server (start, threads, shutdown) owns it; the Listener accepts into
// it; every HttpSession holds it alive, so the io_context outlives the last connection's socket.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "listener.hpp"
#include "omt/net/server.hpp"
#include "omt/obs/http_events.hpp"

namespace omt::net {

class HttpSession;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(const config::ServerConfig& cfg, Router r, obs::Registry& registry, unsigned thread_count);

  // The sessions alive, for shutdown's notices; a session leaves when it is destroyed.
  void register_session(const std::shared_ptr<HttpSession>& session);
  void unregister_session(std::uint64_t id);
  std::vector<std::shared_ptr<HttpSession>> live_sessions();

  const config::ServerConfig config;
  const Router router;
  obs::HttpEvents events;

  std::atomic<bool> stopping{false};
  std::atomic<bool> threads_stopped{false};
  std::atomic<std::size_t> open{0};  // connections accepted and not yet closed (the max_connections limit)
  std::mutex sessions_mutex;
  std::condition_variable sessions_drained;
  std::unordered_map<std::uint64_t, std::weak_ptr<HttpSession>> sessions;

  std::mutex shutdown_mutex;  // one shutdown at a time
  bool shut_down = false;
  Endpoint endpoint;

  // Asio objects last: they are destroyed first, while the members above are still alive.
  boost::asio::io_context ioc;
  Listener listener;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  std::vector<std::thread> threads;
};

}  // namespace omt::net
