// Helpers shared by the operator subcommands that open the durable queue (queue stats, dead-letter ...).
#pragma once

#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_errors.hpp"
#include "omt/config/config.hpp"
#include "omt/config/values.hpp"
#include "omt/queue/ometria_errors.hpp"
#include "omt/queue/queue.hpp"
#include "omt/service/open_queue.hpp"

namespace omt::cli {

// The configuration's default (queue.path), where the operator commands look without --queue or --config.
inline const std::string default_queue_path = config::QueueConfig{}.path.string();

// Where the operator commands find the queue: --queue PATH if given; else queue.path of --config FILE (with
// OMT_QUEUE_PATH and the other OMT_ variables applied, as serve does); else ./data/queue.db.
struct QueueLocation {
  std::string queue_flag;
  std::string config_file;
};

// The service's configuration as serve reads it (--config FILE, then the OMT_ variables); with_sources false
// leaves the sources out, so that a command needing only the queue's location needs none of their secrets.
inline Expected<config::Config> resolve_config(const QueueLocation& where, bool with_sources) {
  config::RawConfig raw;
  if (!where.config_file.empty()) {
    auto loaded = config::RawConfig::from_file(where.config_file);
    if (!loaded) return tl::unexpected(loaded.error());
    raw = std::move(*loaded);
  }
  // After the environment, whose check needs the secrets' variable names that the sources hold.
  if (auto applied = raw.apply_environment(); !applied) return tl::unexpected(applied.error());
  if (!with_sources) raw.erase("sources");
  return config::validate(raw);
}

// The queue an operator command works on (the configuration's queue section; --queue PATH makes it the SQLite
// file there) and how its answers name it ("queue": the path, or the PostgreSQL URL without its password).
struct OperatorQueue {
  config::Config config;
  std::string label = default_queue_path;
};

inline OperatorQueue operator_queue_of(const QueueLocation& where, config::Config cfg) {
  if (!where.queue_flag.empty()) {
    cfg.queue.backend = "sqlite";
    cfg.queue.url.clear();
    cfg.queue.path = where.queue_flag;
  }
  std::string label = service::describe_queue(cfg.queue);
  return OperatorQueue{std::move(cfg), std::move(label)};
}

inline Expected<OperatorQueue> resolve_queue(const QueueLocation& where) {
  if (!where.queue_flag.empty()) return operator_queue_of(where, config::Config{});
  auto cfg = resolve_config(where, /*with_sources=*/false);
  if (!cfg) return tl::unexpected(cfg.error());
  return operator_queue_of(where, std::move(*cfg));
}

inline void add_queue_location_options(CLI::App& cmd, QueueLocation& where) {
  cmd.add_option("--queue", where.queue_flag, "Path of a SQLite queue database (default: the queue of --config, else ./data/queue.db)");
  cmd.add_option("--config", where.config_file, "The service's configuration file, to find the queue from");
}

// Opens an existing queue (never creates one). Safe beside a running service: SQLite's WAL lets both work on the
// file, and PostgreSQL is shared by design; the service's leases are left alone.
inline Expected<std::unique_ptr<queue::Queue>> open_queue_for_operator(const OperatorQueue& target) {
  return service::open_queue(target.config, service::QueueUse::operator_command);
}

// "2024-05-01T12:00:00.123Z"
inline std::string iso8601_utc(queue::UnixMillis millis) {
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(millis % 1000));
  return std::string(text, n) + ms;
}

inline queue::UnixMillis unix_millis_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A point in time given on the command line (--since): an ISO-8601 date-time ("2026-12-01T14:00:00Z", an offset
// "+01:00", a fraction of a second; no zone means UTC), a date ("2026-12-01", midnight UTC), or a time back from
// now as a duration ("30m", "2h": config::parse_duration's syntax).
inline Expected<queue::UnixMillis> parse_point_in_time(std::string_view text, queue::UnixMillis now) {
  const auto bad = [&] {
    return fail(errc::invalid_request, "expected a time like \"2026-12-01T14:00:00Z\", \"2026-12-01\" or \"2h\" (ago), got \"" +
                                           std::string(text) + "\"");
  };
  std::size_t pos = 0;
  // n digits at pos, or -1.
  const auto digits = [&](std::size_t n) -> int {
    if (pos + n > text.size()) return -1;
    int value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text[pos + i];
      if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
      value = value * 10 + (c - '0');
    }
    pos += n;
    return value;
  };
  const auto take = [&](char c) {
    if (pos < text.size() && text[pos] == c) return ++pos, true;
    return false;
  };
  const int year = digits(4);
  if (year < 0 || !take('-')) {
    auto ago = config::parse_duration(text);
    if (!ago) return bad();
    return now - ago->count();
  }
  const int month = digits(2);
  const int day = (month >= 0 && take('-')) ? digits(2) : -1;
  if (day < 0) return bad();
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return bad();
  std::int64_t millis = 0, offset_minutes = 0;
  if (pos < text.size()) {
    if (!take('T') && !take('t') && !take(' ')) return bad();
    const int hour = digits(2);
    const int minute = (hour >= 0 && take(':')) ? digits(2) : -1;
    if (minute < 0 || hour > 23 || minute > 59) return bad();
    int second = 0;
    if (take(':')) {
      second = digits(2);
      if (second < 0 || second > 59) return bad();
    }
    millis = ((hour * 60 + minute) * 60 + second) * std::int64_t{1000};
    if (take('.') || take(',')) {
      int scale = 100, seen = 0;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        millis += (text[pos++] - '0') * scale;
        scale /= 10;
        ++seen;
      }
      if (seen == 0) return bad();
    }
    if (take('Z') || take('z')) {
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      const int sign = text[pos++] == '+' ? 1 : -1;
      const int oh = digits(2);
      if (oh < 0 || oh > 23) return bad();
      take(':');
      const int om = pos < text.size() ? digits(2) : 0;
      if (om < 0 || om > 59) return bad();
      offset_minutes = sign * (oh * 60 + om);
    }
    if (pos != text.size()) return bad();
  }
  const auto midnight = std::chrono::sys_days{date}.time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(midnight).count() + millis - offset_minutes * 60'000;
}

// Prints the error on stderr and returns the exit code for a runtime failure.
inline int report_error(std::string_view command, const Error& error) {
  return fail(command, error.message, exit_failed);
}

// Text that is not valid UTF-8 (an input's bytes quoted in a message) is written with U+FFFD in its place.
inline void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace omt::cli
