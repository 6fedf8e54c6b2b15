// The server's frame: its shared state, the threads that run it, and the graceful stop. Accepting is the
// Listener's (net/listener), one connection an HttpSession's (net/http_session), what is logged and counted
// obs::HttpEvents' (obs/http_events).
#include "omt/net/server.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include <future>

#include <boost/asio/post.hpp>

#include "http_session.hpp"
#include "server_impl.hpp"

namespace omt::net {

namespace asio = boost::asio;

std::string Endpoint::to_string() const {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

namespace {

std::vector<std::unique_ptr<Worker>> make_workers(unsigned count) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < count; ++i) workers.push_back(std::make_unique<Worker>());
  return workers;
}

// An exception escaping a completion handler must not end the thread, or the server would slowly die.
void run_worker(Server::Impl& impl, Worker& worker) {
  while (true) {
    try {
      worker.ioc.run();
      return;
    } catch (const std::exception& e) {
      impl.events.emit(obs::ServerThreadThrew{e.what()});
    } catch (...) {
      impl.events.emit(obs::ServerThreadThrew{nullptr});
    }
  }
}

}  // namespace

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
}

Server::Impl::Impl(const config::ServerConfig& cfg, Router r, obs::Registry& registry, unsigned thread_count)
    : config(cfg),
      router(std::move(r)),
      events(registry, router.patterns()),
      workers(make_workers(thread_count)),
      listener(*this, *workers.front()) {}

void Server::Impl::register_session(const std::shared_ptr<HttpSession>& session) {
  std::lock_guard lock(sessions_mutex);
  sessions.emplace(session->id(), session);
  events.emit(obs::ConnectionOpened{});
}

void Server::Impl::unregister_session(std::uint64_t id) {
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(id);
    if (!metrics_released) events.emit(obs::ConnectionClosed{});
  }
  open.fetch_sub(1);
  sessions_drained.notify_all();
}

std::vector<std::shared_ptr<HttpSession>> Server::Impl::live_sessions() {
  std::vector<std::shared_ptr<HttpSession>> live;
  std::lock_guard lock(sessions_mutex);
  live.reserve(sessions.size());
  for (auto& [id, weak] : sessions) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  return live;
}

Expected<std::unique_ptr<Server>> Server::start(const config::ServerConfig& config, Router router,
                                                obs::Registry& metrics) {
  unsigned threads = config.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  auto impl = std::make_shared<Impl>(config, std::move(router), metrics, threads);

  auto bound = impl->listener.listen(config.host, config.port);
  if (!bound) return tl::unexpected(bound.error());
  impl->endpoint = std::move(*bound);

  impl->listener.start();
  for (auto& worker : impl->workers) {
    worker->thread = std::thread([raw = impl.get(), w = worker.get()] { run_worker(*raw, *w); });
  }
  impl->events.emit(obs::ServerListening{impl->endpoint.to_string(), threads});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

Endpoint Server::local_endpoint() const { return impl_->endpoint; }

std::size_t Server::open_connections() const { return impl_->open.load(); }

namespace {

// A session can outlive shutdown: a handler's thread may still hold its Responder, and the last copy destroys
// it. The registry may be gone by then, so the sessions left are counted closed now, and none touches a metric
// afterwards (the flag is read under the same lock).
void release_metrics(Server::Impl& impl) {
  std::lock_guard lock(impl.sessions_mutex);
  for (std::size_t i = 0; i < impl.sessions.size(); ++i) impl.events.emit(obs::ConnectionClosed{});
  impl.metrics_released = true;
}

}  // namespace

bool Server::shutdown(std::chrono::milliseconds deadline) {
  Impl& impl = *impl_;
  std::lock_guard once(impl.shutdown_mutex);
  if (impl.shut_down) return true;
  impl.shut_down = true;

  impl.stopping.store(true);
  // Wait for the listening socket to be closed, so that "stopped accepting" is true once logged.
  std::promise<void> acceptor_closed;
  asio::post(impl.listener.executor(), [&impl, &acceptor_closed] {
    impl.listener.close();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  impl.events.emit(obs::StoppedAccepting{deadline, impl.open.load()});
  for (auto& s : impl.live_sessions()) s->notify_shutdown();

  bool drained = false;
  {
    std::unique_lock lock(impl.sessions_mutex);
    drained = impl.sessions_drained.wait_for(lock, deadline, [&impl] { return impl.open.load() == 0; });
  }
  if (!drained) {
    impl.events.emit(obs::ShutdownDeadlinePassed{impl.open.load()});
    for (auto& s : impl.live_sessions()) s->force_close();
  }
  // With the acceptor and every socket closed, the threads run out of work and return.
  for (auto& worker : impl.workers) worker->work.reset();
  for (auto& worker : impl.workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  impl.threads_stopped.store(true);
  // Answers delivered while the threads were stopping: run them now (they find their connection closed).
  for (auto& worker : impl.workers) {
    worker->ioc.restart();
    worker->ioc.poll();
  }
  impl.events.emit(obs::ServerStopped{});
  release_metrics(impl);
  return drained;
}

}  // namespace omt::net
