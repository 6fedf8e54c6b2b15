#include "omt/service/delivery_stack.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "omt/net/https_sender.hpp"
#include "omt/obs/delivery_events.hpp"
#include "omt/service/delivery_service.hpp"
#include "omt/service/key_sources.hpp"
#include "omt/service/module_options.hpp"
#include "omt/service/open_queue.hpp"

namespace omt::service {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// A configured duration as it is written in the configuration ("1h", "90s", "250ms").
std::string duration_text(milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// The freshness check's verdict and detail: fresh unless the oldest undelivered live record is older than the
// warning (past four hours Ometria ignores an event for automations, silently). The healthy detail names no age,
// so that it reads the same from one answer to the next (the age is the metric's).
bool freshness_detail(const FreshnessStatus& status, std::int64_t now_ms, std::string& detail) {
  const std::string warning = duration_text(status.warning);
  if (!status.sources.empty()) {
    const auto& oldest = status.sources.front();
    const std::int64_t age_ms = std::max<std::int64_t>(now_ms - oldest.oldest_created_at_unix_ms, 0);
    if (age_ms > status.warning.count()) {
      detail = fmt::format("the oldest undelivered live record ({}) waits for {} s, longer than {} "
                           "(delivery.freshness_warning); past 4 hours Ometria ignores events for automations",
                           oldest.source, age_ms / 1000, warning);
      return false;
    }
  }
  detail = "every live record younger than " + warning + " (delivery.freshness_warning)";
  return true;
}

// Keys the queue holds records or a hold under that no configured source has: warned about once, at start-up.
void warn_of_keys_without_source(queue::Queue& queue, const config::Config& config) {
  auto stats = queue.stats();
  if (!stats) return;  // delivery reports the queue's errors as it meets them
  std::map<std::string, std::pair<std::uint64_t, bool>> keys;  // records, held
  for (const auto& p : stats->partitions) keys[p.api_key].first += p.depth;
  for (const auto& h : stats->held_keys) keys[h.api_key].second = true;
  for (const auto& [key, seen] : keys) {
    if (sources_with_key(config.sources, key).empty()) obs::emit(obs::QueuedKeyWithoutSource{key, seen.first, seen.second});
  }
}

// "source web", "sources web, app" or "no source (an old key)".
std::string held_key_source(const std::vector<config::SourceConfig>& sources, const std::string& fingerprint) {
  const auto names = sources_with_fingerprint(sources, fingerprint);
  if (names.empty()) return describe_key_sources(names);
  return (names.size() == 1 ? "source " : "sources ") + describe_key_sources(names);
}

// The errors Ometria listed after accepting pushes, per key: reported, never failed (the records were the
// senders' to fix, and the service itself is working).
std::string ometria_errors_detail(const config::Config& config, const std::vector<OmetriaErrorsStatus>& keys) {
  if (config.delivery.errors_poll_interval.count() == 0) return "not read (delivery.errors_poll_interval is 0)";
  if (keys.empty()) return "none listed by Ometria";
  std::string detail = "records Ometria rejected after accepting them (see `dead-letter list --ometria-errors`):";
  for (const auto& k : keys) {
    const std::time_t seconds = static_cast<std::time_t>(k.latest_new_at_unix_ms / 1000);
    detail += fmt::format(" {} ({} listed, the latest new at {:%Y-%m-%dT%H:%M:%SZ}; {})", k.key_fingerprint, k.errors,
                          fmt::gmtime(seconds), held_key_source(config.sources, k.key_fingerprint));
  }
  return detail;
}

// The queue's database in /health's queue entry: "backend", "state" ("ok" | "unavailable"), "since" (UTC, when
// that state began) and, while unavailable, "error". Nothing from a backend that keeps no health of its own.
void queue_health_facts(const queue::QueueHealth& health, net::HealthFacts& facts) {
  if (health.backend.empty()) return;
  facts.texts.emplace_back("backend", health.backend);
  facts.texts.emplace_back("state", std::string(queue::to_string(health.state)));
  if (health.since > 0) {
    const std::time_t seconds = static_cast<std::time_t>(health.since / 1000);
    facts.texts.emplace_back("since", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(seconds)));
  }
  if (!health.error.empty()) facts.texts.emplace_back("error", health.error);
}

}  // namespace

// Members are destroyed in reverse: the thread is joined (by stop) before the service, the sender and the
// io_context go, and the queue closes last, finishing its pending operations.
struct DeliveryStack::Impl {
  config::Config config;
  std::unique_ptr<queue::Queue> queue;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<delivery::Sender> sender;
  std::unique_ptr<DeliveryService> delivery;
  std::thread thread;
  std::future<void> thread_done;
  std::mutex stop_mutex;
  bool stopped = false;
  bool drained = true;

  bool stop(milliseconds deadline) {
    std::lock_guard lock(stop_mutex);
    if (stopped) return drained;
    stopped = true;
    if (delivery) drained = delivery->stop(deadline);
    // Destroying the sender aborts what is left in flight; the completions run on the io thread, which then
    // runs out of work and returns. The bounded wait guards against anything left armed by mistake.
    sender.reset();
    work.reset();
    if (thread.joinable()) {
      if (thread_done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        obs::emit(obs::DeliveryThreadStuck{});
        io.stop();
      }
      thread.join();
    }
    // The queue and the stopped service stay until destruction (after the server): /health may still read them.
    return drained;
  }
};

Expected<bool> DeliveryStack::wanted(const config::Config& config) {
  if (!config.sources.empty()) return true;
  std::error_code ec;
  if (config.queue.backend == "sqlite" && !std::filesystem::exists(config.queue.path, ec)) return false;
  auto existing = open_queue(config, QueueUse::operator_command);
  if (!existing) return tl::unexpected(existing.error());
  return (*existing)->depth() > 0;
}

Expected<std::unique_ptr<DeliveryStack>> DeliveryStack::start(const config::Config& config, obs::Registry& metrics) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  auto opened = open_queue(impl->config, QueueUse::service);
  if (!opened) return tl::unexpected(opened.error());
  impl->queue = std::move(*opened);
  warn_of_keys_without_source(*impl->queue, impl->config);
  try {
    impl->sender = net::make_https_sender(impl->io, sender_options(impl->config));
  } catch (const std::exception& e) {
    return fail(errc::invalid_config, std::string("ometria: ") + e.what());
  }
  impl->work.emplace(impl->io.get_executor());
  impl->delivery = std::make_unique<DeliveryService>(impl->io, *impl->queue, *impl->sender,
                                                     delivery_options(impl->config), metrics);
  std::promise<void> done;
  impl->thread_done = done.get_future();
  impl->thread = std::thread([io = &impl->io, done = std::move(done)]() mutable {
    io->run();
    done.set_value();
  });
  impl->delivery->start();
  obs::emit(obs::DeliveryStarted{describe_queue(impl->config.queue), impl->queue->depth(), impl->config.ometria.endpoint});
  return std::unique_ptr<DeliveryStack>(new DeliveryStack(std::move(impl)));
}

DeliveryStack::DeliveryStack(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeliveryStack::~DeliveryStack() { impl_->stop(milliseconds(0)); }

ServiceContext DeliveryStack::context() { return ServiceContext{*impl_->queue, *impl_->delivery, impl_->config}; }

std::vector<net::HealthCheck> DeliveryStack::health_checks() {
  Impl* impl = impl_.get();
  std::vector<net::HealthCheck> checks;
  checks.push_back(net::HealthCheck{"queue", [impl](std::string& detail, net::HealthFacts& facts) {
                                      // The high-water mark counts live records only (ingest's 429).
                                      const auto depth = impl->queue->lane_depth(queue::Lane::live);
                                      const auto backfill = impl->queue->lane_depth(queue::Lane::backfill);
                                      const auto high = impl->queue->high_water_mark();
                                      detail = "depth " + std::to_string(depth) + " of high-water mark " +
                                               std::to_string(high);
                                      if (backfill > 0) detail += ", backfill " + std::to_string(backfill);
                                      // Read once: the status and the state shown beside it agree.
                                      const auto health = impl->queue->health();
                                      queue_health_facts(health, facts);
                                      // Nothing can be stored nor delivered: the one check that fails /health.
                                      if (health.state == queue::QueueHealth::State::ok) return true;
                                      detail += "; the " + health.backend + " database is unreachable: " + health.error;
                                      return false;
                                    }});
  checks.push_back(net::HealthCheck{"delivery", [impl](std::string& detail, net::HealthFacts&) {
                                      const auto held = impl->delivery->held_keys();
                                      if (held.empty()) {
                                        detail = "no held keys";
                                        return true;
                                      }
                                      detail = "held keys (Ometria refused them; records kept):";
                                      for (const auto& k : held) {
                                        detail += " " + k.key_fingerprint + " (" + k.reason +
                                                  (k.probing ? ", probing" : "") + "; " +
                                                  held_key_source(impl->config.sources, k.key_fingerprint) + ")";
                                      }
                                      return true;
                                    }});
  checks.push_back(net::HealthCheck{"ometria_errors", [impl](std::string& detail, net::HealthFacts&) {
                                      detail = ometria_errors_detail(impl->config, impl->delivery->ometria_errors());
                                      return true;
                                    }});
  checks.push_back(net::HealthCheck{"freshness",
                                    [impl](std::string& detail, net::HealthFacts&) {
                                      const auto now = std::chrono::duration_cast<milliseconds>(
                                                           std::chrono::system_clock::now().time_since_epoch())
                                                           .count();
                                      return freshness_detail(impl->delivery->freshness(), now, detail);
                                    },
                                    /*degrades=*/true});
  return checks;
}

bool DeliveryStack::stop(milliseconds deadline) { return impl_->stop(deadline); }

}  // namespace omt::service
