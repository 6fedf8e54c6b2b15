// Internal: what one server's parts share. Server (start, threads, shutdown) owns it; the Listener accepts into
// it; every HttpSession holds it alive, so the io_contexts outlive the last connection's socket.
// Threading: one io_context per thread (a Worker), each run by its own thread only. A connection lives on one
// worker from accept to close, so its handlers never run concurrently and need no strand; the only hand-offs
// between threads are accept -> worker (once per connection) and an answer delivered from another thread.
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

#include "body_buffers.hpp"
#include "listener.hpp"
#include "omt/net/server.hpp"
#include "omt/obs/http_events.hpp"

namespace omt::net {

class HttpSession;

// One server thread and the io_context only it runs (concurrency hint 1: Asio skips its cross-thread locking
// and wake-ups for the thread's own work).
struct Worker {
  // Large bodies' buffers between requests: 2 MiB a worker, five 400 KB bodies, enough for a request's buffer to
  // pass to the next while the ingest load's peak RSS stays within a few MiB of what it was (bench/load/run.sh).
  static constexpr std::size_t kept_body_bytes = 2 * 1024 * 1024;

  boost::asio::io_context ioc{1};
  BodyBuffers bodies{kept_body_bytes};
  boost::asio::executor_work_guard<ServerExecutor> work = boost::asio::make_work_guard(ioc.get_executor());
  std::thread thread;
};

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(const config::ServerConfig& cfg, Router r, obs::Registry& registry, unsigned thread_count);

  // The sessions alive, for shutdown's notices; a session leaves when it is destroyed.
  void register_session(const std::shared_ptr<HttpSession>& session);
  void unregister_session(std::uint64_t id);
  std::vector<std::shared_ptr<HttpSession>> live_sessions();

  // The worker a new connection goes to: in turn (connections are long-lived keep-alives; turns spread them).
  Worker& next_worker() { return *workers[next_worker_index++ % workers.size()]; }

  const config::ServerConfig config;
  const Router router;
  obs::HttpEvents events;

  std::atomic<bool> stopping{false};
  std::atomic<bool> threads_stopped{false};
  std::atomic<std::size_t> open{0};  // connections accepted and not yet closed (the max_connections limit)
  std::mutex sessions_mutex;
  std::condition_variable sessions_drained;
  std::unordered_map<std::uint64_t, std::weak_ptr<HttpSession>> sessions;
  bool metrics_released = false;  // under sessions_mutex: set by shutdown, after which no session counts itself

  std::mutex shutdown_mutex;  // one shutdown at a time
  bool shut_down = false;
  Endpoint endpoint;

  // Asio objects last: they are destroyed first, while the members above are still alive; the listener (on
  // workers[0]) before the io_contexts.
  std::vector<std::unique_ptr<Worker>> workers;
  std::size_t next_worker_index = 0;  // the listener's thread only
  Listener listener;
};

}  // namespace omt::net
