// One reader per section of the config file: its keys, their kinds and ranges, and the checks across keys.
#include <algorithm>
#include <string>

#include "omt/core/text.hpp"

#include "reader.hpp"
#include "sources/settings_reader.hpp"

namespace omt::config::detail {

void read_server_section(ObjectReader& server, Config& config) {
  ServerConfig& s = config.server;
  server.host_port("listen", s.host, s.port);
  server.unsigned_integer("threads", s.threads, 0, 1024);

  ObjectReader limits = server.object("limits");
  limits.size("max_body_bytes", s.limits.max_body_bytes, 1, std::size_t{1} << 30);
  limits.size("max_header_bytes", s.limits.max_header_bytes, 256, std::size_t{1} << 20);
  limits.unsigned_integer("max_connections", s.limits.max_connections, 1, 1'000'000);
  limits.done();

  using std::chrono::milliseconds;
  ObjectReader timeouts = server.object("timeouts");
  timeouts.duration("read", s.timeouts.read, milliseconds(1), std::chrono::hours(1));
  timeouts.duration("idle", s.timeouts.idle, milliseconds(1), std::chrono::hours(24));
  timeouts.duration("write", s.timeouts.write, milliseconds(1), std::chrono::hours(1));
  timeouts.done();

  server.duration("shutdown_deadline", s.shutdown_deadline, milliseconds(0), std::chrono::hours(1));
}

void read_log_section(ObjectReader& log, Config& config) {
  log.string_in("level", config.log.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  log.string_in("format", config.log.format, {"text", "json"});
  log.boolean("log_pii", config.log.log_pii);
}

void read_queue_section(ObjectReader& queue, Config& config) {
  QueueConfig& q = config.queue;
  queue.string_in("backend", q.backend, {"sqlite", "postgres"});
  queue.secret("url", q.url);  // it may carry a password
  if (q.backend == "postgres" && q.url.empty()) {
    queue.error("url", "the postgres backend needs queue.url, a libpq connection string or URI such as "
                       "\"postgresql://omt@db.internal/omt\" (usually {\"env\": \"OMT_QUEUE_URL\"})");
  } else if (q.backend == "postgres" && q.url.rfind("postgresql://", 0) != 0 && q.url.rfind("postgres://", 0) != 0 &&
             q.url.find('=') == std::string::npos) {
    queue.error("url", "expected a postgresql:// URI or a libpq connection string (\"host=... dbname=...\")");
  } else if (q.backend == "sqlite" && !q.url.empty()) {
    queue.error("url", "queue.url is for queue.backend \"postgres\"; the sqlite backend uses queue.path");
  }
  queue.path("path", q.path);
  queue.string_in("durability", q.durability, {"full", "normal"});
  queue.unsigned_integer("high_water_mark", q.high_water_mark, 1, std::int64_t{1} << 40);
  queue.unsigned_integer("max_rejected_events", q.max_rejected_events, 1, std::int64_t{1} << 40);
  queue.unsigned_integer("max_request_log", q.max_request_log, 1, std::int64_t{1} << 40);
  // At least a second: claims are renewed every third of it, and a renewal is a round trip to the database.
  queue.duration("lease_timeout", q.lease_timeout, std::chrono::seconds(1), std::chrono::hours(1));
  // At least 100 ms: a round trip to the database, and a commit under load, must fit.
  queue.duration("statement_timeout", q.statement_timeout, std::chrono::milliseconds(100), std::chrono::minutes(10));
}

void read_ometria_section(ObjectReader& ometria, Config& config) {
  using std::chrono::milliseconds;
  OmetriaConfig& o = config.ometria;
  ometria.string("endpoint", o.endpoint);
  ometria.boolean("allow_plain_http", o.allow_plain_http);
  ometria.path("extra_ca_file", o.extra_ca_file);
  ometria.duration("connect_timeout", o.connect_timeout, milliseconds(1), std::chrono::minutes(10));
  ometria.duration("handshake_timeout", o.handshake_timeout, milliseconds(1), std::chrono::minutes(10));
  ometria.duration("response_timeout", o.response_timeout, milliseconds(1), std::chrono::minutes(10));
  ometria.unsigned_integer("max_in_flight", o.max_in_flight, 1, 1024);
  const bool https = o.endpoint.rfind("https://", 0) == 0, http = o.endpoint.rfind("http://", 0) == 0;
  if (!https && !http) ometria.error("endpoint", "expected an https:// URL, got \"" + o.endpoint + "\"");
  else if (http && !o.allow_plain_http)
    ometria.error("endpoint", "plain http:// is refused unless ometria.allow_plain_http is true (tests only)");
}

void read_delivery_section(ObjectReader& delivery, Config& config) {
  using std::chrono::milliseconds;
  DeliveryConfig& d = config.delivery;
  delivery.number("requests_per_second", d.rate_limit.requests_per_second, 0, 100'000);
  delivery.number("burst", d.rate_limit.burst, 1, 100'000);
  delivery.duration("linger", d.linger, milliseconds(0), std::chrono::minutes(1));
  delivery.unsigned_integer("pushes_per_partition", d.pushes_per_partition, 1, 64);
  delivery.duration("errors_poll_interval", d.errors_poll_interval, milliseconds(0), std::chrono::hours(24));
  delivery.duration("freshness_warning", d.freshness_warning, milliseconds(1), std::chrono::hours(24 * 7));
  ObjectReader retry = delivery.object("retry");
  retry.duration("base_delay", d.retry.base_delay, milliseconds(1), std::chrono::hours(1));
  retry.duration("max_delay", d.retry.max_delay, milliseconds(1), std::chrono::hours(24));
  retry.duration("max_retry_after", d.retry.max_retry_after, milliseconds(1), std::chrono::hours(24));
  retry.duration("auth_probe_interval", d.retry.hold_probe_interval, milliseconds(1), std::chrono::hours(24));
  retry.unsigned_integer("max_attempts", d.retry.max_attempts, 0, 1'000'000);
  retry.done();
}

namespace {

// A list of addresses and networks, or one string of them separated by commas (as OMT_INGEST_TRUSTED_PROXIES
// sets it). Each bad entry is named, with its position in the list.
void read_trusted_proxies(ObjectReader& ingest, std::vector<ip::Network>& out) {
  const nlohmann::json* value = ingest.find("trusted_proxies");
  if (!value) return;
  std::vector<std::string> entries;
  if (value->is_string()) {
    const std::string text = value->get<std::string>();
    for (std::size_t start = 0; start <= text.size();) {
      const auto comma = std::min(text.find(',', start), text.size());
      const std::string_view entry = text::trim(std::string_view(text).substr(start, comma - start));
      if (!entry.empty() || comma < text.size()) entries.emplace_back(entry);
      start = comma + 1;
    }
  } else if (value->is_array()) {
    for (std::size_t k = 0; k < value->size(); ++k) {
      if (!(*value)[k].is_string())
        return ingest.error("trusted_proxies[" + std::to_string(k) + "]", "expected a string such as \"10.0.0.0/8\"");
      entries.push_back((*value)[k].get<std::string>());
    }
  } else {
    return ingest.error("trusted_proxies", "expected a list of IP addresses or networks such as [\"10.0.0.0/8\", \"::1\"]");
  }
  for (std::size_t k = 0; k < entries.size(); ++k) {
    auto network = ip::parse_network(entries[k]);
    if (!network)
      return ingest.error("trusted_proxies[" + std::to_string(k) + "]", "\"" + entries[k] + "\": " + network.error().message);
    out.push_back(*network);
  }
}

}  // namespace

void read_ingest_section(ObjectReader& ingest, Config& config) {
  IngestConfig& i = config.ingest;
  // The SQLite queue takes at most 10,000 records an enqueue, and a request is stored in one enqueue.
  ingest.unsigned_integer("max_events_per_request", i.max_events_per_request, 1, 10'000);
  std::chrono::milliseconds retry_after = i.retry_after;
  ingest.duration("retry_after", retry_after, std::chrono::seconds(1), std::chrono::hours(1));
  i.retry_after = std::chrono::duration_cast<std::chrono::seconds>(retry_after);
  ingest.unsigned_integer("slow_down_from", i.slow_down_from, 0, std::int64_t{1} << 40);
  ingest.duration("max_slow_down", i.max_slow_down, std::chrono::milliseconds(0), std::chrono::seconds(30));
  read_trusted_proxies(ingest, i.trusted_proxies);
}

void read_import_section(ObjectReader& import, Config& config) {
  import.unsigned_integer("max_queued", config.import.max_queued, 1, std::int64_t{1} << 40);
}

void read_destination_settings(ObjectReader& reader, const DestinationKeys& keys, ometria::DestinationConfig& out) {
  reader.secret(keys.api_key, out.api_key);
  // Ometria's contact opt-in states (its push API refuses others); "" is "not set", as RudderStack's form sends it.
  std::string optin;
  reader.string_in(keys.marketing_optin, optin, {"", "EXPLICITLY_OPTEDIN", "EXPLICITLY_OPTEDOUT", "NOT_SPECIFIED"});
  if (!optin.empty()) out.marketing_optin = optin;
  for (auto [key, setting] : {std::pair{keys.allow_marketing, &out.allow_marketing},
                              std::pair{keys.allow_transactional, &out.allow_transactional}}) {
    if (!reader.find(key)) continue;
    bool v = false;
    reader.boolean(key, v);
    *setting = v;
  }
  if (keys.collection.empty()) return;
  std::string collection;
  reader.string(keys.collection, collection);
  if (!collection.empty()) out.collection = collection;
}

void require_api_key(ObjectReader& reader, const DestinationKeys& keys, const ometria::DestinationConfig& settings) {
  if (settings.api_key.empty()) reader.error(keys.api_key, "is required (the Ometria API key)");
}

// "sources": [{"name", "write_key", "webhook_token", "api_key", "marketing_optin", "allow_marketing",
// "allow_transactional", "collection"}]
namespace {

// "https://shop.example" or "http://localhost:8080": a scheme, "://" and a host, no path, no trailing slash
// (a browser's Origin header never has one), or "*".
bool is_origin(std::string_view value) {
  if (value == "*") return true;
  const auto scheme_end = value.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
  const std::string_view host = value.substr(scheme_end + 3);
  return !host.empty() && host.find_first_of("/?#* ") == std::string_view::npos;
}

void read_allowed_origins(ObjectReader& source, std::vector<std::string>& out) {
  const nlohmann::json* list = source.find("allowed_origins");
  if (!list) return;
  if (!list->is_array()) return source.error("allowed_origins", "expected a list of origins such as \"https://shop.example\", or [\"*\"]");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& value = (*list)[i];
    const std::string key = "allowed_origins[" + std::to_string(i) + "]";
    if (!value.is_string() || !is_origin(value.get<std::string>()))
      return source.error(key, "expected an origin such as \"https://shop.example\" (scheme and host, no path), or \"*\"");
    out.push_back(value.get<std::string>());
  }
}

}  // namespace

void read_sources(ObjectReader& root, Config& config) {
  const nlohmann::json* list = root.find("sources");
  if (!list) return;
  if (!list->is_array()) return root.error("sources", "expected a list of sources");
  for (std::size_t i = 0; i < list->size(); ++i) {
    ObjectReader source(root.context(), &(*list)[i], "sources[" + std::to_string(i) + "]");
    if (!(*list)[i].is_object()) return source.error("", "expected an object");
    SourceConfig s;
    s.name = "source-" + std::to_string(i);
    source.string("name", s.name);
    source.secret("write_key", s.write_key);
    source.secret("webhook_token", s.webhook_token);
    read_allowed_origins(source, s.allowed_origins);
    read_destination_settings(source, source_destination_keys, s.destination);
    sources::read_settings(source, s.mapping);
    source.done();
    require_api_key(source, source_destination_keys, s.destination);
    if (source.context().first_error) return;
    if (s.write_key.empty() && s.webhook_token.empty())
      return source.error("", "needs a write_key or a webhook_token (or both)");
    for (const auto& other : config.sources) {
      if (!s.write_key.empty() && other.write_key == s.write_key) return source.error("write_key", "is used by another source");
      if (!s.webhook_token.empty() && other.webhook_token == s.webhook_token)
        return source.error("webhook_token", "is used by another source");
    }
    config.sources.push_back(std::move(s));
  }
}

}  // namespace omt::config::detail
