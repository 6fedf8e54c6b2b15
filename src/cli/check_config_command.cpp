// `ometria-transformer check-config --config FILE`: validates the configuration (and the mapping tables it
// points to) exactly as `serve` would, and prints the effective configuration as JSON with every secret
// masked (queue.url without its password). Exit 0: valid; 2: invalid (the message names the key).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/cli_errors.hpp"
#include "cli/commands.hpp"
#include "cli/mappings_location.hpp"
#include "omt/config/config.hpp"
#include "omt/obs/log.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/service/open_queue.hpp"

namespace omt::cli {
namespace {

std::string duration(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

// A set secret shows as "<set>", an API key as its fingerprint; neither can be read back from the output.
std::string masked(const std::string& secret) { return secret.empty() ? "" : "<set>"; }

nlohmann::ordered_json effective(const config::Config& c) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["server"] = {{"listen", c.server.host + ":" + std::to_string(c.server.port)},
                 {"threads", c.server.threads},
                 {"limits",
                  {{"max_body_bytes", c.server.limits.max_body_bytes},
                   {"max_header_bytes", c.server.limits.max_header_bytes},
                   {"max_connections", c.server.limits.max_connections}}},
                 {"timeouts",
                  {{"read", duration(c.server.timeouts.read)},
                   {"idle", duration(c.server.timeouts.idle)},
                   {"write", duration(c.server.timeouts.write)}}},
                 {"shutdown_deadline", duration(c.server.shutdown_deadline)}};
  j["log"] = {{"level", c.log.level}, {"format", c.log.format}, {"log_pii", c.log.log_pii}};
  j["mappings_dir"] = mappings_location(c.mappings_dir, "mappings_dir").directory.string();
  j["queue"] = {{"backend", c.queue.backend}, {"url", service::url_without_password(c.queue.url)},
                {"path", c.queue.path.string()}, {"durability", c.queue.durability}, {"high_water_mark", c.queue.high_water_mark},
                {"max_rejected_events", c.queue.max_rejected_events}, {"max_request_log", c.queue.max_request_log},
                {"lease_timeout", duration(c.queue.lease_timeout)}, {"statement_timeout", duration(c.queue.statement_timeout)}};
  j["ometria"] = {{"endpoint", c.ometria.endpoint},
                  {"allow_plain_http", c.ometria.allow_plain_http},
                  {"extra_ca_file", c.ometria.extra_ca_file.string()},
                  {"connect_timeout", duration(c.ometria.connect_timeout)},
                  {"handshake_timeout", duration(c.ometria.handshake_timeout)},
                  {"response_timeout", duration(c.ometria.response_timeout)},
                  {"max_in_flight", c.ometria.max_in_flight}};
  j["delivery"] = {{"requests_per_second", c.delivery.rate_limit.requests_per_second},
                   {"burst", c.delivery.rate_limit.burst},
                   {"linger", duration(c.delivery.linger)},
                   {"pushes_per_partition", c.delivery.pushes_per_partition},
                   {"errors_poll_interval", duration(c.delivery.errors_poll_interval)},
                   {"freshness_warning", duration(c.delivery.freshness_warning)},
                   {"retry",
                    {{"base_delay", duration(c.delivery.retry.base_delay)},
                     {"max_delay", duration(c.delivery.retry.max_delay)},
                     {"max_retry_after", duration(c.delivery.retry.max_retry_after)},
                     {"auth_probe_interval", duration(c.delivery.retry.hold_probe_interval)},
                     {"max_attempts", c.delivery.retry.max_attempts}}}};
  j["ingest"] = {{"max_events_per_request", c.ingest.max_events_per_request},
                 {"retry_after", duration(c.ingest.retry_after)},
                 {"slow_down_from", c.ingest.slow_down_from},
                 {"max_slow_down", duration(c.ingest.max_slow_down)},
                 {"trusted_proxies", ordered_json::array()}};
  for (const auto& proxy : c.ingest.trusted_proxies) j["ingest"]["trusted_proxies"].push_back(ip::to_string(proxy));
  j["import"] = {{"max_queued", c.import.max_queued}};
  j["sources"] = ordered_json::array();
  for (const auto& s : c.sources) {
    ordered_json source = {{"name", s.name},
                           {"write_key", masked(s.write_key)},
                           {"webhook_token", masked(s.webhook_token)},
                           {"api_key", obs::key_fingerprint(s.destination.api_key)}};
    if (s.destination.marketing_optin) source["marketing_optin"] = *s.destination.marketing_optin;
    if (s.destination.allow_marketing) source["allow_marketing"] = *s.destination.allow_marketing;
    if (s.destination.allow_transactional) source["allow_transactional"] = *s.destination.allow_transactional;
    if (s.destination.collection) source["collection"] = *s.destination.collection;
    j["sources"].push_back(std::move(source));
  }
  return j;
}

int run_check_config(const std::string& file) {
  config::RawConfig raw;
  if (!file.empty()) {
    auto loaded = config::RawConfig::from_file(file);
    if (!loaded) {
      return fail("check-config", loaded.error().message, exit_usage);
    }
    raw = std::move(*loaded);
  }
  if (auto applied = raw.apply_environment(); !applied) return fail("check-config", applied.error().message, exit_usage);
  auto cfg = config::validate(raw);
  if (!cfg) {
    return fail("check-config", cfg.error().message, exit_usage);
  }
  const auto mappings = mappings_location(cfg->mappings_dir, "mappings_dir").directory;
  if (auto transformer = ometria::Transformer::load(mappings); !transformer) {
    return fail("check-config", transformer.error().message, exit_usage);
  }
  std::cout << effective(*cfg).dump(2) << "\n";
  return 0;
}

}  // namespace

void add_check_config_command(CLI::App& app, int& exit_code) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("check-config", "Validate the configuration and print it with secrets masked");
  cmd->add_option("--config", *file, "Configuration file (JSON); without it, the defaults are checked");
  cmd->footer(exit_status_footer("never (a configuration error is 2)"));
  cmd->callback([file, &exit_code] { exit_code = run_check_config(*file); });
}

}  // namespace omt::cli
