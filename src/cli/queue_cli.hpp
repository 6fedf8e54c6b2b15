// Helpers shared by the operator subcommands that open the durable queue (queue stats, dead-letter ...).
#pragma once

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
#include "omt/queue/sqlite_queue.hpp"

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

inline std::string queue_path_of(const QueueLocation& where, const config::Config& cfg) {
  return where.queue_flag.empty() ? cfg.queue.path.string() : where.queue_flag;
}

inline Expected<std::string> resolve_queue_path(const QueueLocation& where) {
  if (!where.queue_flag.empty()) return where.queue_flag;
  auto cfg = resolve_config(where, /*with_sources=*/false);
  if (!cfg) return tl::unexpected(cfg.error());
  return cfg->queue.path.string();
}

inline void add_queue_location_options(CLI::App& cmd, QueueLocation& where) {
  cmd.add_option("--queue", where.queue_flag, "Path of the queue database (default: queue.path of --config, else ./data/queue.db)");
  cmd.add_option("--config", where.config_file, "The service's configuration file, to find the queue from");
}

// Opens an existing queue (never creates one). Safe beside a running service: WAL lets both work on the file,
// and leases live in the service's memory.
inline Expected<std::unique_ptr<queue::SqliteQueue>> open_queue_for_operator(const std::string& path) {
  queue::SqliteQueueOptions options;
  options.path = path;
  options.create_if_missing = false;
  return queue::SqliteQueue::open(std::move(options));
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

// Prints the error on stderr and returns the exit code for a runtime failure.
inline int report_error(std::string_view command, const Error& error) {
  return fail(command, error.message, exit_failed);
}

inline void print_json(const nlohmann::json& value) { std::cout << value.dump(2) << "\n"; }

}  // namespace omt::cli
