#include "omt/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "omt/core/text.hpp"
#include "reader.hpp"

namespace omt::config {

namespace {

// Splits "123unit" into the number and the unit; false if there is no leading number.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
  text = text::trim(text);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return false;
  unit = text::trim(std::string_view(end, static_cast<std::size_t>(text.data() + text.size() - end)));
  return true;
}

bool checked_multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  out = a * b;
  return true;
}

}  // namespace

Expected<HostPort> parse_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail(errc::invalid_config, "expected HOST:PORT, got \"" + std::string(text) + "\"");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos) {
    return fail(errc::invalid_config, "an IPv6 host must be bracketed: [::1]:9090");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
    return fail(errc::invalid_config, "expected a port 0..65535, got \"" + std::string(port_text) + "\"");
  }
  return HostPort{host.empty() ? std::string("0.0.0.0") : std::string(host), static_cast<std::uint16_t>(port)};
}

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return fail(errc::invalid_config, "expected a duration like \"250ms\", \"30s\" or \"2m\", got \"" + std::string(text) + "\"");
  }
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m" || unit == "min") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else return fail(errc::invalid_config, "unknown duration unit \"" + std::string(unit) + "\" (use ms, s, m or h)");
  std::uint64_t ms = 0;
  if (!checked_multiply(n, factor, ms) || ms > static_cast<std::uint64_t>(INT64_MAX)) {
    return fail(errc::invalid_config, "duration out of range: " + std::string(text));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Expected<std::size_t> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return fail(errc::invalid_config, "expected a size like \"8KiB\" or \"32MiB\", got \"" + std::string(text) + "\"");
  }
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B") factor = 1;
  else if (unit == "KiB") factor = 1ull << 10;
  else if (unit == "MiB") factor = 1ull << 20;
  else if (unit == "GiB") factor = 1ull << 30;
  else if (unit == "KB" || unit == "kB") factor = 1000;
  else if (unit == "MB") factor = 1000 * 1000;
  else if (unit == "GB") factor = 1000 * 1000 * 1000;
  else return fail(errc::invalid_config, "unknown size unit \"" + std::string(unit) + "\" (use B, KiB, MiB, GiB)");
  std::uint64_t bytes = 0;
  if (!checked_multiply(n, factor, bytes) || bytes > SIZE_MAX) {
    return fail(errc::invalid_config, "size out of range: " + std::string(text));
  }
  return static_cast<std::size_t>(bytes);
}

// ---- RawConfig ----

RawConfig::RawConfig() : tree_(std::make_unique<Tree>()) {}
RawConfig::RawConfig(const RawConfig& other) : tree_(std::make_unique<Tree>(*other.tree_)), source_(other.source_) {}
RawConfig& RawConfig::operator=(const RawConfig& other) {
  if (this != &other) {
    tree_ = std::make_unique<Tree>(*other.tree_);
    source_ = other.source_;
  }
  return *this;
}
RawConfig::RawConfig(RawConfig&&) noexcept = default;
RawConfig& RawConfig::operator=(RawConfig&&) noexcept = default;
RawConfig::~RawConfig() = default;

Expected<RawConfig> RawConfig::parse(std::string_view json_text, std::string_view source) {
  RawConfig raw;
  raw.source_ = std::string(source);
  try {
    raw.tree_->json = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return fail(errc::invalid_config, raw.source_ + ": invalid JSON: " + e.what());
  }
  if (!raw.tree_->json.is_object()) return fail(errc::invalid_config, raw.source_ + ": expected a JSON object");
  return raw;
}

Expected<RawConfig> RawConfig::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(errc::invalid_config, file.string() + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(errc::invalid_config, file.string() + ": cannot read the config file");
  return parse(text.str(), file.string());
}

namespace {
nlohmann::json& slot_for(nlohmann::json& root, std::string_view dotted_key) {
  nlohmann::json* node = &root;
  while (true) {
    const auto dot = dotted_key.find('.');
    const std::string part(dotted_key.substr(0, dot));
    if (!node->is_object()) *node = nlohmann::json::object();
    node = &(*node)[part];
    if (dot == std::string_view::npos) return *node;
    dotted_key.remove_prefix(dot + 1);
  }
}
}  // namespace

void RawConfig::set(std::string_view dotted_key, std::string value) { slot_for(tree_->json, dotted_key) = std::move(value); }
void RawConfig::set(std::string_view dotted_key, std::int64_t value) { slot_for(tree_->json, dotted_key) = value; }
void RawConfig::set(std::string_view dotted_key, bool value) { slot_for(tree_->json, dotted_key) = value; }
void RawConfig::erase(std::string_view top_level_key) { tree_->json.erase(std::string(top_level_key)); }

// ---- ObjectReader ----

namespace detail {

ObjectReader::ObjectReader(ReadContext& context, const nlohmann::json* object, std::string path)
    : context_(context), object_(object), path_(std::move(path)) {}

std::string ObjectReader::key_path(std::string_view key) const {
  if (key.empty()) return path_;
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void ObjectReader::error(std::string_view key, std::string message) {
  if (context_.first_error) return;
  const std::string where = key_path(key);
  context_.first_error = Error{errc::invalid_config, context_.source + ": " + where + ": " + message, where};
}

const nlohmann::json* ObjectReader::find(std::string_view key) {
  known_.emplace_back(key);
  if (context_.asked) context_.asked->push_back(key_path(key));
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end()) return nullptr;
  return &*it;
}

void ObjectReader::string(std::string_view key, std::string& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string()) return error(key, "expected a string");
  out = v->get<std::string>();
}

void ObjectReader::string_in(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed) {
  std::string value = out;
  string(key, value);
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return error(key, "expected one of " + list + ", got \"" + value + "\"");
  }
  out = value;
}

void ObjectReader::boolean(std::string_view key, bool& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_boolean()) return error(key, "expected true or false");
  out = v->get<bool>();
}

void ObjectReader::integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!v->is_number_integer()) return error(key, "expected an integer " + range);
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return error(key, "expected an integer " + range);
  }
  const auto n = v->get<std::int64_t>();
  if (n < min || n > max) return error(key, "expected an integer " + range + ", got " + std::to_string(n));
  out = n;
}

void ObjectReader::duration(std::string_view key, std::chrono::milliseconds& out, std::chrono::milliseconds min,
                            std::chrono::milliseconds max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  std::chrono::milliseconds value{};
  if (v->is_number_unsigned()) {
    value = std::chrono::milliseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(v->get<std::uint64_t>(), INT64_MAX)));
  } else if (v->is_string()) {
    auto parsed = parse_duration(v->get<std::string>());
    if (!parsed) return error(key, parsed.error().message);
    value = *parsed;
  } else {
    return error(key, "expected a duration like \"250ms\" or \"30s\" (a number is milliseconds)");
  }
  if (value < min || value > max) {
    return error(key, "expected a duration from " + std::to_string(min.count()) + "ms to " +
                          std::to_string(max.count()) + "ms, got " + std::to_string(value.count()) + "ms");
  }
  out = value;
}

void ObjectReader::size(std::string_view key, std::size_t& out, std::size_t min, std::size_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  std::size_t value = 0;
  if (v->is_number_unsigned()) {
    value = static_cast<std::size_t>(v->get<std::uint64_t>());
  } else if (v->is_string()) {
    auto parsed = parse_size(v->get<std::string>());
    if (!parsed) return error(key, parsed.error().message);
    value = *parsed;
  } else {
    return error(key, "expected a size in bytes or a string like \"32MiB\"");
  }
  if (value < min || value > max) {
    return error(key, "expected a size from " + std::to_string(min) + " to " + std::to_string(max) +
                          " bytes, got " + std::to_string(value));
  }
  out = value;
}

void ObjectReader::host_port(std::string_view key, std::string& host, std::uint16_t& port) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string()) return error(key, "expected \"HOST:PORT\"");
  auto parsed = parse_host_port(v->get<std::string>());
  if (!parsed) return error(key, parsed.error().message);
  host = parsed->host;
  port = parsed->port;
}

void ObjectReader::path(std::string_view key, std::filesystem::path& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string() || v->get_ref<const std::string&>().empty()) return error(key, "expected a non-empty path");
  out = v->get<std::string>();
}

void ObjectReader::number(std::string_view key, double& out, double min, double max) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_number()) return error(key, "expected a number");
  const double d = v->get<double>();
  if (!(d >= min && d <= max)) return error(key, "expected a number " + std::to_string(min) + ".." + std::to_string(max));
  out = d;
}

void ObjectReader::secret(std::string_view key, std::string& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (v->is_string()) {
    out = v->get<std::string>();
    return;
  }
  if (v->is_object() && v->size() == 1 && v->contains("env") && (*v)["env"].is_string()) {
    const std::string name = (*v)["env"].get<std::string>();
    const char* value = std::getenv(name.c_str());
    if (!value || !*value) return error(key, "environment variable " + name + " is not set");
    out = value;
    return;
  }
  error(key, "expected a string or {\"env\": \"VARIABLE\"}");
}

ObjectReader ObjectReader::object(std::string_view key) {
  const nlohmann::json* v = find(key);
  if (v && !v->is_object()) {
    error(key, "expected an object");
    v = nullptr;
  }
  return ObjectReader(context_, v, key_path(key));
}

void ObjectReader::done() {
  if (object_ == nullptr) return;
  for (auto it = object_->begin(); it != object_->end(); ++it) {
    if (std::find(known_.begin(), known_.end(), it.key()) == known_.end()) {
      std::string known;
      for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
      return error(it.key(), "unknown key (known here: " + known + ")");
    }
  }
}

// ---- sections ----

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
  queue.path("path", q.path);
  queue.string_in("durability", q.durability, {"full", "normal"});
  queue.unsigned_integer("high_water_mark", q.high_water_mark, 1, std::int64_t{1} << 40);
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
  ObjectReader retry = delivery.object("retry");
  retry.duration("base_delay", d.retry.base_delay, milliseconds(1), std::chrono::hours(1));
  retry.duration("max_delay", d.retry.max_delay, milliseconds(1), std::chrono::hours(24));
  retry.duration("max_retry_after", d.retry.max_retry_after, milliseconds(1), std::chrono::hours(24));
  retry.duration("auth_probe_interval", d.retry.hold_probe_interval, milliseconds(1), std::chrono::hours(24));
  retry.unsigned_integer("max_attempts", d.retry.max_attempts, 0, 1'000'000);
  retry.done();
}

void read_ingest_section(ObjectReader& ingest, Config& config) {
  IngestConfig& i = config.ingest;
  // The SQLite queue takes at most 10,000 records an enqueue, and a request is stored in one enqueue.
  ingest.unsigned_integer("max_events_per_request", i.max_events_per_request, 1, 10'000);
  std::chrono::milliseconds retry_after = i.retry_after;
  ingest.duration("retry_after", retry_after, std::chrono::seconds(1), std::chrono::hours(1));
  i.retry_after = std::chrono::duration_cast<std::chrono::seconds>(retry_after);
  ingest.unsigned_integer("slow_down_from", i.slow_down_from, 0, std::int64_t{1} << 40);
  ingest.duration("max_slow_down", i.max_slow_down, std::chrono::milliseconds(0), std::chrono::seconds(30));
}

// "sources": [{"name", "write_key", "webhook_token", "api_key", "marketing_optin", "allow_marketing",
// "allow_transactional", "collection"}]
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
    source.secret("api_key", s.destination.api_key);
    std::string optin;
    source.string_in("marketing_optin", optin, {"", "EXPLICITLY_OPTEDIN", "EXPLICITLY_OPTEDOUT", "NOT_SPECIFIED"});
    if (!optin.empty()) s.destination.marketing_optin = optin;
    if (source.find("allow_marketing")) {
      bool v = false;
      source.boolean("allow_marketing", v);
      s.destination.allow_marketing = v;
    }
    if (source.find("allow_transactional")) {
      bool v = false;
      source.boolean("allow_transactional", v);
      s.destination.allow_transactional = v;
    }
    std::string collection;
    source.string("collection", collection);
    if (!collection.empty()) s.destination.collection = collection;
    source.done();
    if (s.destination.api_key.empty()) return source.error("api_key", "is required (the Ometria API key)");
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

}  // namespace detail

namespace {
struct Section {
  std::string_view key;
  void (*read)(detail::ObjectReader&, Config&);
};
// Later sections (queue, ometria, delivery, sources) add one row each.
constexpr Section sections[] = {
    {"server", detail::read_server_section},
    {"log", detail::read_log_section},
    {"queue", detail::read_queue_section},
    {"ometria", detail::read_ometria_section},
    {"delivery", detail::read_delivery_section},
    {"ingest", detail::read_ingest_section},
};
}  // namespace

std::string environment_name(std::string_view dotted_key) {
  std::string name = "OMT_";
  for (char c : dotted_key) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::vector<std::string> known_keys() {
  std::vector<std::string> asked;
  detail::ReadContext context{"defaults", std::nullopt, &asked};
  Config config;
  RawConfig empty;
  detail::ObjectReader root(context, &empty.tree().json, "");
  for (const Section& section : sections) {
    detail::ObjectReader reader = root.object(section.key);
    section.read(reader, config);
  }
  root.path("mappings_dir", config.mappings_dir);
  std::vector<std::string> keys;
  for (auto& key : asked)
    if (key.find('.') != std::string::npos || key == "mappings_dir") keys.push_back(std::move(key));  // leaves only
  return keys;
}

std::vector<std::string> RawConfig::apply_environment() {
  std::vector<std::string> applied;
  for (const auto& key : known_keys()) {
    const std::string name = environment_name(key);
    const char* value = std::getenv(name.c_str());
    if (!value) continue;
    const std::string text(value);
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text == "true" || text == "false") set(key, text == "true");
    else if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) set(key, number);
    else set(key, text);
    applied.push_back(name);
  }
  return applied;
}

Expected<Config> validate(const RawConfig& raw) {
  detail::ReadContext context{raw.source(), std::nullopt};
  Config config;
  detail::ObjectReader root(context, &raw.tree().json, "");
  for (const Section& section : sections) {
    detail::ObjectReader reader = root.object(section.key);
    section.read(reader, config);
    reader.done();
  }
  root.path("mappings_dir", config.mappings_dir);
  detail::read_sources(root, config);
  root.done();
  if (context.first_error) return tl::unexpected(*context.first_error);
  return config;
}

}  // namespace omt::config
