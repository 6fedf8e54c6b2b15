#include "omt/obs/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace omt::obs {

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1)) {
  if (!std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()) ||
      std::adjacent_find(upper_bounds_.begin(), upper_bounds_.end()) != upper_bounds_.end()) {
    throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
}

void Histogram::observe(double value) noexcept {
  // Buckets are few (about 16): a linear scan beats a binary search here.
  std::size_t i = 0;
  while (i < upper_bounds_.size() && value > upper_bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  s.cumulative_counts.reserve(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative_counts.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets_seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct Registry::Series {
  Labels labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

struct Registry::Family {
  std::string name;
  std::string help;
  Type type;
  std::deque<Series> series;
};

namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void append_escaped(std::string& out, std::string_view text, bool escape_quotes) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && escape_quotes) out += "\\\"";
    else out += c;
  }
}

void append_number(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_number(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// {a="x",b="y"} plus an optional extra label (histogram "le").
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v, true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family_locked(std::string_view name, std::string_view help, Type type) {
  for (auto& f : families_) {
    if (f.name == name) {
      if (f.type != type) throw std::logic_error("metric " + std::string(name) + " registered with two types");
      return f;
    }
  }
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name: " + std::string(name));
  families_.push_back(Family{std::string(name), std::string(help), type, {}});
  return families_.back();
}

Registry::Series* Registry::find_locked(Family& family, const Labels& labels) {
  for (auto& s : family.series) {
    if (s.labels == labels) return &s;
  }
  for (const auto& [k, v] : labels) {
    if (!valid_metric_name(k) || k.find(':') != std::string::npos || k == "le") {
      throw std::invalid_argument("invalid label name: " + k);
    }
  }
  return nullptr;
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mutex_);
  Family& f = family_locked(name, help, Type::counter);
  if (Series* s = find_locked(f, labels)) return *s->counter;
  f.series.push_back(Series{std::move(labels), std::make_unique<Counter>(), nullptr, nullptr});
  return *f.series.back().counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mutex_);
  Family& f = family_locked(name, help, Type::gauge);
  if (Series* s = find_locked(f, labels)) return *s->gauge;
  f.series.push_back(Series{std::move(labels), nullptr, std::make_unique<Gauge>(), nullptr});
  return *f.series.back().gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> upper_bounds,
                               Labels labels) {
  std::lock_guard lock(mutex_);
  Family& f = family_locked(name, help, Type::histogram);
  if (Series* s = find_locked(f, labels)) return *s->histogram;
  f.series.push_back(Series{std::move(labels), nullptr, nullptr, std::make_unique<Histogram>(std::move(upper_bounds))});
  return *f.series.back().histogram;
}

std::string Registry::render_prometheus() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mutex_);
  for (const auto& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == Type::counter ? " counter\n" : f.type == Type::gauge ? " gauge\n" : " histogram\n";
    for (const auto& s : f.series) {
      if (f.type == Type::counter) {
        out += f.name;
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, s.counter->value());
        out += '\n';
      } else if (f.type == Type::gauge) {
        out += f.name;
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, s.gauge->value());
        out += '\n';
      } else {
        const Histogram::Snapshot snap = s.histogram->snapshot();
        for (std::size_t i = 0; i <= snap.upper_bounds.size(); ++i) {
          std::string le;
          if (i < snap.upper_bounds.size()) append_number(le, snap.upper_bounds[i]);
          else le = "+Inf";
          out += f.name;
          out += "_bucket";
          append_labels(out, s.labels, "le", le);
          out += ' ';
          append_number(out, snap.cumulative_counts[i]);
          out += '\n';
        }
        out += f.name;
        out += "_sum";
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, snap.sum);
        out += '\n';
        out += f.name;
        out += "_count";
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, snap.count);
        out += '\n';
      }
    }
  }
  return out;
}

}  // namespace omt::obs
