// Freshness of the live lane: every freshness_interval, how old the oldest undelivered live record of each source
// is, as the gauge omt_queue_oldest_live_record_age_seconds{source} and as the snapshot /health reads. A live
// record waiting past four hours will never start an automation (OMETRIA_RECORDS.md), and nothing else would say.
#include <algorithm>
#include <map>

#include "delivery_engine.hpp"
#include "omt/service/key_sources.hpp"
#include "omt/obs/log.hpp"

namespace omt::service {

void DeliveryService::Impl::start_freshness() { check_freshness(); }

void DeliveryService::Impl::check_freshness() {
  if (stopping_.load()) return;
  on_queue<queue::QueueStats>([](queue::Queue& q, queue::Done<queue::QueueStats> done) { q.stats(std::move(done)); },
                              [](const Self& self, Expected<queue::QueueStats> stats) { self->on_freshness(std::move(stats)); });
}

void DeliveryService::Impl::on_freshness(Expected<queue::QueueStats> stats) {
  if (stopping_.load()) return;
  if (stats) {
    std::map<std::string, queue::UnixMillis> oldest;  // by source
    for (const auto& p : stats->partitions) {
      if (p.lane != queue::Lane::live || p.depth == 0) continue;
      const auto known = options_.key_sources.find(p.api_key);
      const std::string source = known != options_.key_sources.end() ? known->second : describe_key_sources({});
      auto [it, added] = oldest.try_emplace(source, p.oldest_created_at);
      if (!added) it->second = std::min(it->second, p.oldest_created_at);
    }
    const auto now = wall_now_ms();
    FreshnessStatus status;
    status.checked = true;
    status.warning = options_.freshness_warning;
    for (const auto& [source, created_at] : oldest) {
      freshness_sources_.insert(source);
      status.sources.push_back(FreshnessStatus::Source{source, created_at});
    }
    for (const auto& source : freshness_sources_) {
      auto it = oldest.find(source);
      const std::int64_t seconds = it == oldest.end() ? 0 : (now - it->second) / 1000;
      events_.emit(obs::OldestLiveRecordAge{source, seconds});
    }
    std::sort(status.sources.begin(), status.sources.end(),
              [](const auto& a, const auto& b) { return a.oldest_created_at_unix_ms < b.oldest_created_at_unix_ms; });
    std::lock_guard lock(snapshot_mutex_);
    freshness_snapshot_ = std::move(status);
  }
  // A failed read leaves the last snapshot; the next check tries again.
  freshness_timer_.expires_after(options_.freshness_interval);
  freshness_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->check_freshness();
  });
}

}  // namespace omt::service
