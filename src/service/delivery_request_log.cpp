// Every push's outcome, written to the queue's request log (omt/queue/request_log.hpp): delivered, refused, timed
// out or never answered; delivery's pushes and the proxy's (omt/service/proxy_request_log.hpp). Fire-and-forget:
// the queue batches the entries into its next transaction, and a failed write is only counted and logged
// (obs::RequestLogEvents); what became of the push stands either way.
#include <chrono>
#include <memory>
#include <utility>

#include "delivery_engine.hpp"
#include "omt/obs/log.hpp"
#include "omt/queue/request_log.hpp"
#include "omt/service/proxy_request_log.hpp"

namespace omt::service {

namespace {

// The one place a push's lane is read: its records' (a partition's records share their lane).
queue::Lane lane_of(const std::vector<LeasedRecord>& batch) {
  return batch.empty() ? queue::Lane::live : batch.front().lane;
}

queue::RequestLogEntry entry_of(const delivery::PushOutcome& outcome) {
  queue::RequestLogEntry e;
  if (!outcome.has_answer()) {
    e.status = 0;
    e.failure = std::string(delivery::to_string(*outcome.network_error));
    return e;
  }
  e.status = outcome.answer.status;
  if (const auto& receipt = outcome.answer.receipt) {
    if (!receipt->request_id.empty()) e.request_id = receipt->request_id;
    e.accepted = receipt->accepted;
    e.rejected = receipt->rejected;
  }
  return e;
}

}  // namespace

void DeliveryService::Impl::log_push(const Partition& p, const delivery::PushOutcome& outcome, Steady::duration took) {
  queue::RequestLog* log = queue_.request_log();
  if (log == nullptr) return;
  queue::RequestLogEntry e = entry_of(outcome);
  e.at = wall_now_ms();
  if (const auto it = options_.key_sources.find(p.key.api_key); it != options_.key_sources.end()) e.source = it->second;
  e.key_fingerprint = obs::key_fingerprint(p.key.api_key);
  e.type = p.key.type;
  e.lane = lane_of(p.batch);
  e.records = static_cast<std::uint32_t>(p.batch.size());
  e.duration_ms = std::chrono::duration_cast<milliseconds>(took).count();
  std::vector<queue::RequestLogEntry> entries;
  entries.push_back(std::move(e));
  log->log_pushes(std::move(entries), request_log_failures_.on_done(1));
}

std::function<void(const net::ProxiedPush&)> proxy_request_logger(queue::RequestLog& log, obs::Registry& metrics) {
  auto failures = std::make_shared<RequestLogFailures>(metrics);
  return [&log, failures](const net::ProxiedPush& push) {
    if (!push.shape.type) return;  // not an array of records: there is no type to log it under
    queue::RequestLogEntry e = entry_of(push.outcome);
    e.at = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    e.source = std::string(proxy_request_log_source);
    e.key_fingerprint = obs::key_fingerprint(push.api_key);
    e.type = *push.shape.type;
    e.lane = queue::Lane::live;  // rudder-server's own delivery of live events
    e.records = push.shape.records;
    e.duration_ms = push.took.count();
    std::vector<queue::RequestLogEntry> entries;
    entries.push_back(std::move(e));
    log.log_pushes(std::move(entries), failures->on_done(1));
  };
}

RequestLogFailures::~RequestLogFailures() {
  std::lock_guard lock(state_->mutex);
  state_->events.reset();
}

std::function<void(const Error*)> RequestLogFailures::on_done(std::size_t pushes) const {
  return [state = state_, pushes](const Error* err) {
    if (err == nullptr) return;
    std::lock_guard lock(state->mutex);
    if (state->events) state->events->emit(obs::RequestLogWriteFailed{pushes, err->message});
  };
}

}  // namespace omt::service
