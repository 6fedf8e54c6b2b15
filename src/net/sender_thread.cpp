// A Sender that owns its io_context and thread, and SenderOptions from the configuration.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <thread>

#include "omt/config/config.hpp"
#include "omt/net/sender.hpp"

namespace omt::net {
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

SenderOptions sender_options_from(const config::OmetriaConfig& ometria) {
  SenderOptions o;
  o.connect_timeout = ometria.connect_timeout;
  o.handshake_timeout = ometria.handshake_timeout;
  o.response_timeout = ometria.response_timeout;
  o.max_in_flight = ometria.max_in_flight;
  o.max_idle_per_host = ometria.max_in_flight;
  o.allow_plain_http = ometria.allow_plain_http;
  o.extra_ca_file = ometria.extra_ca_file.string();
  return o;
}

}  // namespace omt::net
