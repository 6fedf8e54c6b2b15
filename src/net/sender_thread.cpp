// A Sender that owns its io_context and thread.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <thread>

#include "omt/net/https_sender.hpp"

namespace omt::net {

using delivery::PushCompletion;
using delivery::PushRequest;
using delivery::Sender;

namespace {

class ThreadedSender final : public Sender {
 public:
  explicit ThreadedSender(SenderOptions options)
      : work_(boost::asio::make_work_guard(io_)), inner_(make_https_sender(io_, std::move(options))) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ThreadedSender() override {
    // The client is destroyed on its own thread, so its shutdown never races a completion; then the thread ends.
    boost::asio::post(io_, [this] { inner_.reset(); });
    work_.reset();
    thread_.join();
  }
  void send(PushRequest request, PushCompletion completion) override {
    boost::asio::post(io_, [this, request = std::move(request), completion = std::move(completion)]() mutable {
      if (inner_) inner_->send(std::move(request), std::move(completion));
    });
  }

 private:
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<Sender> inner_;
  std::thread thread_;
};

}  // namespace

std::shared_ptr<Sender> make_threaded_https_sender(SenderOptions options) {
  return std::make_shared<ThreadedSender>(std::move(options));
}

}  // namespace omt::net
