// A small metrics registry rendered in the Prometheus text format (GET /metrics).
// Modules register counters, gauges and histograms once (labels are fixed at registration) and keep the returned
// reference; updating one is a relaxed atomic operation, safe from any thread. Registering is thread-safe and
// idempotent: the same name and labels return the same series. References stay valid for the registry's life.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omt::obs {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  // For a total kept elsewhere (a queue's round trips): the counter becomes `total` unless it is already past it,
  // so that an older reading, reported late by another thread, never takes it back.
  void raise_to(std::uint64_t total) noexcept {
    std::uint64_t now = value_.load(std::memory_order_relaxed);
    while (total > now && !value_.compare_exchange_weak(now, total, std::memory_order_relaxed)) {
    }
  }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Histogram {
 public:
  // upper_bounds: strictly increasing; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // upper_bounds_.size() + 1 (the last is +Inf)
  std::atomic<double> sum_{0};
};

// Seconds: 100 us .. 10 s, for request latencies.
std::vector<double> latency_buckets_seconds();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // name: [a-zA-Z_:][a-zA-Z0-9_:]*; a name keeps the type and help of its first registration.
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> upper_bounds,
                       Labels labels = {});

  // The Prometheus text exposition format 0.0.4, families in registration order.
  std::string render_prometheus() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Series;
  struct Family;
  Family& family_locked(std::string_view name, std::string_view help, Type type);
  Series* find_locked(Family& family, const Labels& labels);

  mutable std::mutex mutex_;
  std::deque<Family> families_;
};

}  // namespace omt::obs
