// What Ometria rejected after a 2xx: GET /v2/push/_errors per key, every errors_poll_interval. A poll takes a
// token of the key's rate limit, as a push does (it counts against the same budget at Ometria), and skips a held
// key (its polls would be refused too) or one paused by Ometria's backlog. What it lists is matched to our recent
// pushes where it carries ids, kept in the queue (each poll lists the same errors again: the store tells new from
// known), told once per new error, and summed per key for /health.
#include <algorithm>
#include <utility>

#include "delivery_engine.hpp"
#include "omt/obs/log.hpp"
#include "omt/queue/ometria_errors.hpp"

namespace omt::service {

void DeliveryService::Impl::start_errors_poll() {
  if (!errors_poll_on()) return;
  const auto now = Steady::now();
  for (const auto& key : options_.errors_poll_keys) errors_schedule_.add_key(key, now);
  if (const auto next = errors_schedule_.next_due()) arm_errors_timer(*next);
  // /health shows what earlier runs kept, too.
  on_queue<std::vector<queue::OmetriaErrorsOfKey>>(
      [](queue::Queue& q, queue::Done<std::vector<queue::OmetriaErrorsOfKey>> done) {
        q.ometria_error_log()->ometria_errors_by_key(std::move(done));
      },
      [](const Self& self, Expected<std::vector<queue::OmetriaErrorsOfKey>> kept) {
             if (!kept) return;  // the next poll's store reports the queue's trouble
             for (const auto& k : *kept) {
               self->error_summary_[k.api_key] =
                   OmetriaErrorsStatus{obs::key_fingerprint(k.api_key), k.errors, k.latest_new_at};
             }
             self->publish_error_summary();
           });
}

// A delivered push: what errors about it could be matched to, and its key is one to poll from now on.
void DeliveryService::Impl::remember_push(const Partition& p, const delivery::PushOutcome& outcome) {
  const auto now = Steady::now();
  errors_schedule_.add_key(p.key.api_key, now);
  if (const auto next = errors_schedule_.next_due()) arm_errors_timer(*next);
  delivery::PushedRecords pushed;
  if (outcome.answer.receipt) pushed.request_id = outcome.answer.receipt->request_id;
  pushed.type = std::string(ometria::to_string(p.key.type));
  pushed.pushed_at_unix_ms = wall_now_ms();
  pushed.record_ids.reserve(p.batch.size());
  for (const auto& r : p.batch) {
    if (auto id = ometria::record_id_of(r.json)) pushed.record_ids.push_back(std::move(*id));
  }
  recent_pushes_.add(p.key.api_key, std::move(pushed));
}

void DeliveryService::Impl::arm_errors_timer(Steady::time_point at) {
  if (stopping_.load() || at >= errors_timer_at_) return;
  errors_timer_at_ = at;
  const std::uint64_t generation = ++errors_timer_generation_;
  errors_timer_.expires_at(at);
  errors_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || self->stopping_.load() || self->errors_timer_generation_ != generation) return;
    self->errors_timer_at_ = Steady::time_point::max();
    self->poll_due_errors();
  });
}

void DeliveryService::Impl::poll_due_errors() {
  const auto now = Steady::now();
  std::optional<Steady::time_point> retry_at;
  for (const auto& key : errors_schedule_.due(now)) {
    // A held key's poll would be refused like its pushes; a paused key's account is busy: both wait a round.
    // A key another instance delivers is polled by that instance (one rate limit across instances).
    const auto pause = key_pause_.find(key);
    if (!owns(key) || holds_.held(key) || (pause != key_pause_.end() && pause->second > now)) {
      errors_schedule_.polled(key, now);
      continue;
    }
    if (!limiter_.try_acquire(key, now)) {
      const auto wait = std::max<Steady::duration>(limiter_.wait_time(key, now), milliseconds(1));
      retry_at = std::min(retry_at.value_or(Steady::time_point::max()), now + wait);
      continue;
    }
    poll_errors(key);
  }
  if (retry_at) arm_errors_timer(*retry_at);
  if (const auto next = errors_schedule_.next_due()) arm_errors_timer(*next);
}

void DeliveryService::Impl::poll_errors(const std::string& api_key) {
  errors_schedule_.started(api_key);
  delivery::PushRequest request;
  request.url = errors_url_;
  request.api_key = api_key;
  request.method = delivery::PushRequest::Method::get;
  request.max_answer_bytes = ometria::max_errors_answer_bytes;
  sender_.send(std::move(request), [self = shared_from_this(), api_key](delivery::PushOutcome outcome) mutable {
    asio::post(self->strand_, [self, api_key = std::move(api_key), outcome = std::move(outcome)]() mutable {
      self->on_errors_answer(api_key, std::move(outcome));
    });
  });
}

void DeliveryService::Impl::on_errors_answer(const std::string& api_key, delivery::PushOutcome outcome) {
  if (stopping_.load()) return;
  errors_schedule_.polled(api_key, Steady::now());
  if (const auto next = errors_schedule_.next_due()) arm_errors_timer(*next);
  if (!outcome.has_answer()) {
    error_events_.emit(obs::OmetriaErrorsPollFailed{api_key, delivery::to_string(*outcome.network_error),
                                                    outcome.error_detail});
    return;
  }
  const auto& answer = outcome.answer;
  const std::string status = "HTTP " + std::to_string(answer.status);
  if (answer.status < 200 || answer.status > 299) {
    error_events_.emit(obs::OmetriaErrorsPollFailed{api_key, status, obs::answer_excerpt(answer.body, 256)});
    return;
  }
  if (answer.body_truncated) {
    error_events_.emit(obs::OmetriaErrorsPollFailed{api_key, status, "the answer is over the size limit"});
    return;
  }
  auto listed = ometria::parse_errors_answer(answer.body);
  if (!listed) {
    error_events_.emit(obs::OmetriaErrorsPollFailed{api_key, status, listed.error().message});
    return;
  }
  auto seen = delivery::distinct_errors(listed->errors);
  for (auto& s : seen) s.match = recent_pushes_.match(api_key, s.error);
  const std::size_t count = listed->errors.size(), ignored = listed->ignored;
  on_queue<std::vector<delivery::SeenError>>(
      [api_key, seen = std::move(seen), now = wall_now_ms()](queue::Queue& q, queue::Done<std::vector<delivery::SeenError>> done) {
        q.ometria_error_log()->record_ometria_errors(api_key, seen, now, std::move(done));
      },
      [api_key, count, ignored](const Self& self, Expected<std::vector<delivery::SeenError>> fresh) {
        if (!fresh) {
          self->error_events_.emit(obs::OmetriaErrorsNotStored{api_key, fresh.error().message});
          return;
        }
        self->on_errors_stored(api_key, *fresh);
        std::size_t new_errors = 0;
        for (const auto& f : *fresh) new_errors += f.occurrences;
        self->error_events_.emit(obs::OmetriaErrorsPolled{api_key, count, new_errors, ignored});
      });
}

void DeliveryService::Impl::on_errors_stored(const std::string& api_key, const std::vector<delivery::SeenError>& fresh) {
  if (fresh.empty()) return;
  auto& summary = error_summary_[api_key];
  summary.key_fingerprint = obs::key_fingerprint(api_key);
  summary.latest_new_at_unix_ms = wall_now_ms();
  for (const auto& f : fresh) {
    summary.errors += f.occurrences;
    obs::OmetriaErrorListed event{api_key, f.error.message, f.error.path};
    if (f.error.record_id) event.record_id = *f.error.record_id;
    if (f.error.request_id) event.request_id = *f.error.request_id;
    event.occurrences = f.occurrences;
    if (f.match) {
      event.matched = true;
      event.matched_request_id = f.match->request_id;
      event.matched_type = f.match->type;
      event.matched_records = f.match->record_ids.size();
      if (!f.match->record_ids.empty()) event.first_matched_record = f.match->record_ids.front();
    }
    error_events_.emit(event);
  }
  publish_error_summary();
}

void DeliveryService::Impl::publish_error_summary() {
  std::vector<OmetriaErrorsStatus> snapshot;
  for (const auto& [key, status] : error_summary_) snapshot.push_back(status);
  std::sort(snapshot.begin(), snapshot.end(),
            [](const auto& a, const auto& b) { return a.key_fingerprint < b.key_fingerprint; });
  std::lock_guard lock(snapshot_mutex_);
  errors_snapshot_ = std::move(snapshot);
}

}  // namespace omt::service
