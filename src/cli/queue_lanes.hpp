// What the operator commands say about the queue's lanes and the keys' sources, one way for `queue stats` and
// `import status`: every (key, type, lane) with records waiting or ever delivered or dead-lettered (seed 004's
// "records amount in the export queue"), and each key named by its configured sources where they are known.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/queue_cli.hpp"
#include "omt/obs/log.hpp"
#include "omt/service/key_sources.hpp"

namespace omt::cli {

// The sources of --config (or OMT_SOURCES) name the keys; without them a key's sources are unknown, not "old".
class KeySourceNames {
 public:
  explicit KeySourceNames(const QueueLocation& where) {
    if (auto cfg = resolve_config(where, /*with_sources=*/true); !cfg) {
      error_ = cfg.error().message;
    } else if (!where.config_file.empty() || !cfg->sources.empty()) {
      sources_ = cfg->sources;
    }
  }
  std::string operator()(const std::string& api_key) const {
    if (!sources_) return "unknown (pass --config to name the sources)";
    return service::describe_key_sources(service::sources_with_key(*sources_, api_key));
  }
  // Why the configuration could not be read, if it could not (the answer then still lists the queue).
  const std::optional<std::string>& error() const { return error_; }

 private:
  std::optional<std::vector<config::SourceConfig>> sources_;
  std::optional<std::string> error_;
};

// Waiting and drained partitions together, ordered by key, type, lane.
inline std::vector<queue::PartitionStats> all_lanes(const queue::QueueStats& stats) {
  std::vector<queue::PartitionStats> lanes = stats.partitions;
  lanes.insert(lanes.end(), stats.drained.begin(), stats.drained.end());
  std::sort(lanes.begin(), lanes.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a.api_key, std::string(ometria::to_string(a.type)), a.lane) <
           std::make_tuple(b.api_key, std::string(ometria::to_string(b.type)), b.lane);
  });
  return lanes;
}

inline double age_seconds(queue::UnixMillis created, queue::UnixMillis now) {
  return std::max<std::int64_t>(now - created, 0) / 1000.0;
}

inline nlohmann::json lane_json(const queue::PartitionStats& p, const std::string& source, queue::UnixMillis now) {
  return {{"key", obs::key_fingerprint(p.api_key)},
          {"source", source},
          {"type", ometria::to_string(p.type)},
          {"lane", queue::lane_name(p.lane)},
          {"depth", p.depth},
          {"oldest_age_seconds", p.depth > 0 ? nlohmann::json(age_seconds(p.oldest_created_at, now)) : nullptr},
          {"delivered", p.delivered},
          {"dead_lettered", p.dead_lettered}};
}

}  // namespace omt::cli
