#include "omt/net/delayed_calls.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <list>
#include <mutex>
#include <thread>

#include "omt/obs/service_events.hpp"

namespace omt::net {

namespace asio = boost::asio;

struct DelayedCalls::Impl {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::mutex mutex;
  std::list<asio::steady_timer> timers;  // waiting calls; a list keeps each timer where it is
  bool closing = false;
  std::thread thread;

  static void run(const std::function<void()>& call) {
    try {
      call();
    } catch (const std::exception& e) {
      obs::emit(obs::DelayedCallThrew{e.what()});
    }
  }
};

DelayedCalls::DelayedCalls() : impl_(std::make_shared<Impl>()) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

DelayedCalls::~DelayedCalls() {
  close();
  impl_->work.reset();  // the thread runs what is left, then runs out of work
  impl_->thread.join();
}

void DelayedCalls::close() {
  std::lock_guard lock(impl_->mutex);
  impl_->closing = true;
  // Waiting calls run now: their waits end with operation_aborted.
  for (auto& timer : impl_->timers) timer.cancel();
}

void DelayedCalls::after(std::chrono::milliseconds delay, std::function<void()> call) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->closing || delay.count() <= 0) {
    asio::post(impl_->io, [call = std::move(call)] { Impl::run(call); });
    return;
  }
  auto timer = impl_->timers.emplace(impl_->timers.end(), impl_->io, delay);
  timer->async_wait([impl = impl_.get(), timer, call = std::move(call)](const boost::system::error_code&) {
    Impl::run(call);
    std::lock_guard erase_lock(impl->mutex);
    impl->timers.erase(timer);
  });
}

}  // namespace omt::net
