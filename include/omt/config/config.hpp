// Start-up configuration: a JSON file (--config), OMT_ environment variables and command-line flags, read once
// and validated into a Config that cannot be invalid. RawConfig is the unvalidated tree (file values with
// overrides applied at dotted keys, each override remembering where it came from); validate() turns it into
// Config or names the first bad or unknown key and its origin ("OMT_SERVER_THREADS=abc: server.threads: ...").
// Adding a section: a struct and a field in Config, a reader in src/config/sections.cpp, one row in the section
// table of src/config/config.cpp. The value syntax (durations, sizes, addresses, secrets): omt/config/values.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <vector>

#include "omt/delivery/rate_limiter.hpp"
#include "omt/delivery/retry_policy.hpp"
#include "omt/config/values.hpp"
#include "omt/core/ip_address.hpp"
#include "omt/error.hpp"
#include "omt/ometria/push_api.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/sources/settings.hpp"

namespace omt::config {

struct ServerLimits {
  std::size_t max_body_bytes = 32u << 20;    // 413 past it
  std::size_t max_header_bytes = 8u << 10;   // request line + header fields; 431 past it
  std::size_t max_connections = 16'384;      // concurrent; over it a new connection gets 503 and is closed
};

struct ServerTimeouts {
  std::chrono::milliseconds read{30'000};   // whole request, from its first byte to its last
  std::chrono::milliseconds idle{60'000};   // keep-alive: waiting for the first byte of the next request
  std::chrono::milliseconds write{30'000};  // whole response
};

struct ServerConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 9090;     // 0 picks a free port
  unsigned threads = 0;          // 0: the number of cores
  ServerLimits limits;
  ServerTimeouts timeouts;
  std::chrono::milliseconds shutdown_deadline{10'000};  // SIGTERM: time left to requests in flight
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text | json
  bool log_pii = false;
};

// The durable queue between ingest and delivery (SQLite).
struct QueueConfig {
  std::string backend = "sqlite";  // "sqlite": the file at path; "postgres": the database at url, which instances can share
  std::string url;                 // postgres only: a libpq connection string or URI (usually {"env": "OMT_QUEUE_URL"})
  std::filesystem::path path = "./data/queue.db";  // sqlite only
  std::string durability = "full";         // full: survives power loss; normal: survives a killed process (WAL)
  std::uint64_t high_water_mark = 1'000'000;  // records waiting; over it ingest answers 429 and stores nothing
  std::uint64_t max_rejected_events = 100'000;  // events ingest could not transform, kept for replay; oldest dropped
  std::uint64_t max_request_log = 100'000;      // pushes kept in the request log (`requests`); oldest dropped
  // postgres only: how long an instance's claim on an API key's delivery lasts unless renewed (every third of it);
  // a killed instance's keys are taken over by the others after this (docs/scaling.md).
  std::chrono::milliseconds lease_timeout{std::chrono::seconds(30)};
  // postgres only: the longest one statement may run (the server's statement_timeout and lock_timeout on every
  // connection, and how long the client waits for an answer); past it the operation fails instead of hanging.
  std::chrono::milliseconds statement_timeout{std::chrono::seconds(10)};
};

// Where and how records are pushed.
struct OmetriaConfig {
  std::string endpoint{ometria::push_endpoint};
  bool allow_plain_http = false;             // only for tests against a local fake
  std::filesystem::path extra_ca_file;       // trusted in addition to the system store (tests)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds response_timeout{30000};
  std::size_t max_in_flight = 16;            // pushes on the wire at once, all keys together
};

struct DeliveryConfig {
  delivery::RateLimit rate_limit;            // per API key: 8 requests/s, burst 8, never more than 8 in a second
  std::chrono::milliseconds linger{200};     // how long a partial batch waits for more records
  std::size_t pushes_per_partition = 1;      // pushes of one (API key, type) at once; 1 keeps their order
  delivery::RetryConfig retry;               // backoff, Retry-After cap, 401/403 probe interval, max attempts
  // How often each key's GET /v2/push/_errors (what Ometria rejected after a 2xx) is read; 0: never.
  std::chrono::milliseconds errors_poll_interval{std::chrono::minutes(5)};
  // /health is "degraded" once the oldest undelivered live record is older than this (Ometria ignores events
  // older than four hours for automations).
  std::chrono::milliseconds freshness_warning{std::chrono::hours(1)};
};

// The ingest endpoints (/v1/webhook, /v1/identify, /v1/track, /v1/batch).
struct IngestConfig {
  std::size_t max_events_per_request = 10'000;  // more: 413 (also the SQLite queue's limit per enqueue)
  std::chrono::seconds retry_after{5};          // Retry-After of a 429 (queue over its high-water mark) or 503
  // Backpressure before the 429: from this many queued records (0: never) each answer is held back, longer
  // as the queue grows, up to max_slow_down at the high-water mark.
  std::uint64_t slow_down_from = 100'000;
  std::chrono::milliseconds max_slow_down{1000};
  // Peers whose X-Forwarded-For names the client (load balancers, reverse proxies): addresses or networks.
  // Empty: the client is always the peer itself (docs/ingest.md, "What the service stamps on arrival").
  std::vector<ip::Network> trusted_proxies;
};

// `ometria-transformer import`: history enters the queue's backfill lane, which live records always overtake.
struct ImportConfig {
  // Backfill records of one key waiting at most: an import waits (it does not fail) while the lane is this full.
  std::uint64_t max_queued = 200'000;
};

// A secret value is written in the file as a string, or as {"env": "NAME"} to read it from the environment.
// One source of events: who may send (write key for /v1/identify|track|batch, token for /v1/webhook) and the
// Ometria destination its events go to.
struct SourceConfig {
  std::string name;
  std::string write_key;      // secret; HTTP Basic user name (RudderStack / Segment HTTP API)
  std::string webhook_token;  // secret; "Authorization: Bearer <token>" or ?token=
  // Browser origins ("https://shop.example", or "*") whose pages may send with CORS; empty: none.
  std::vector<std::string> allowed_origins;
  ometria::DestinationConfig destination;  // api_key (secret), marketing_optin, allow_marketing, ...
  sources::Settings mapping;               // what its events get beyond rudder-transformer's mapping
};

struct Config {
  ServerConfig server;
  LogConfig log;
  std::filesystem::path mappings_dir;  // empty: the built-in default
  QueueConfig queue;
  OmetriaConfig ometria;
  DeliveryConfig delivery;
  IngestConfig ingest;
  ImportConfig import;
  std::vector<SourceConfig> sources;
};

// One variable of an environment (the process's, or a test's).
struct EnvironmentVariable {
  std::string name;
  std::string value;
};

class RawConfig {
 public:
  RawConfig();  // empty: every value at its default
  // Parses a JSON object; `source` names it in error messages (a file name).
  static Expected<RawConfig> parse(std::string_view json_text, std::string_view source = "config");
  static Expected<RawConfig> from_file(const std::filesystem::path& file);

  // Environment overrides (environment.cpp): every key can be set as OMT_<KEY> with dots as underscores,
  // upper-cased (server.limits.max_body_bytes -> OMT_SERVER_LIMITS_MAX_BODY_BYTES), and `sources` as OMT_SOURCES
  // (the JSON list, replacing the file's). They win over the file; apply them before command-line flags, which
  // win over both. Any other OMT_ variable is an error naming it, unless the config names it as a secret
  // ({"env": NAME}) or it is reserved (reserved_environment_name). Returns the names of the variables applied.
  Expected<std::vector<std::string>> apply_environment(const std::vector<EnvironmentVariable>& environment);
  Expected<std::vector<std::string>> apply_environment();  // this process's environment

  // Overrides at a dotted key ("server.listen"); they win over the file. `origin` starts the value's errors
  // ("--listen nonsense" -> "--listen nonsense: server.listen: ..."); empty: the file's name, as for its own.
  void set(std::string_view dotted_key, std::string value, std::string origin = {});
  void set(std::string_view dotted_key, std::int64_t value, std::string origin = {});
  void set(std::string_view dotted_key, bool value, std::string origin = {});
  // Drops a top-level key (the operator commands ignore "sources", whose secrets they do not need).
  void erase(std::string_view top_level_key);

  RawConfig(const RawConfig&);
  RawConfig& operator=(const RawConfig&);
  RawConfig(RawConfig&&) noexcept;
  RawConfig& operator=(RawConfig&&) noexcept;
  ~RawConfig();

  struct Tree;  // the JSON document (nlohmann), kept out of this header
  const Tree& tree() const { return *tree_; }
  const std::string& source() const { return source_; }

 private:
  std::unique_ptr<Tree> tree_;
  std::string source_ = "config";
};

// The environment variable of a dotted key: "log.level" -> "OMT_LOG_LEVEL".
std::string environment_name(std::string_view dotted_key);
// Every settable dotted key (sources excepted: they are lists), in reading order.
std::vector<std::string> known_keys();
// The variable that holds the `sources` list as JSON.
inline constexpr std::string_view sources_environment_name = "OMT_SOURCES";
// OMT_ variables that are no setting and are left alone: the project's scripts' own (build, test, benchmark).
bool reserved_environment_name(std::string_view name);

// The error (errc::invalid_config) names the key and where its value came from: the file
// ("config.json: server.threads: expected an integer 0..1024"), a variable ("OMT_SERVER_THREADS=abc: ...")
// or a flag ("--threads 0: ...").
Expected<Config> validate(const RawConfig& raw);

}  // namespace omt::config
