// `ometria-transformer serve`: the HTTP service. Reads the configuration (file, then flags), loads the mappings,
// starts the server and waits for SIGTERM/SIGINT; then stops accepting, lets requests in flight finish within
// server.shutdown_deadline and exits 0. Start-up errors (config, mappings, address in use) exit 2.
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli_errors.hpp"
#include "cli/commands.hpp"
#include "cli/mappings_location.hpp"
#include "omt/config/config.hpp"
#include "omt/net/routes.hpp"
#include "omt/net/server.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"
#include "omt/obs/service_events.hpp"
#include "omt/ometria/transformer.hpp"
#include "omt/queue/queue_file_lock.hpp"
#include "omt/net/delayed_calls.hpp"
#include "omt/net/ingest_routes.hpp"
#include "omt/net/https_sender.hpp"
#include "omt/service/delivery_service.hpp"
#include "omt/service/delivery_stack.hpp"
#include "omt/service/module_options.hpp"
#include "omt/service/proxy_request_log.hpp"
#include "omt/queue/request_log.hpp"

namespace omt::cli {

namespace {

struct ServeFlags {
  std::string config_file;
  std::string listen;
  unsigned threads = 0;
  std::string mappings_dir;
  std::string log_level;
  std::string log_format;
  bool log_pii = false;
  CLI::Option* threads_option = nullptr;
};

int start_up_error(std::string_view message) { return fail("serve", message, exit_usage); }

int run_serve(const ServeFlags& flags) {
  config::RawConfig raw;
  if (!flags.config_file.empty()) {
    auto loaded = config::RawConfig::from_file(flags.config_file);
    if (!loaded) return start_up_error(loaded.error().message);
    raw = std::move(*loaded);
  }
  // OMT_<KEY> variables win over the file; flags win over both. Each value's errors name the flag it came from.
  if (auto applied = raw.apply_environment(); !applied) return start_up_error(applied.error().message);
  if (!flags.listen.empty()) raw.set("server.listen", flags.listen, "--listen " + flags.listen);
  if (flags.threads_option->count() > 0)
    raw.set("server.threads", static_cast<std::int64_t>(flags.threads), "--threads " + std::to_string(flags.threads));
  if (!flags.mappings_dir.empty()) raw.set("mappings_dir", flags.mappings_dir, "--mappings " + flags.mappings_dir);
  if (!flags.log_level.empty()) raw.set("log.level", flags.log_level, "--log-level " + flags.log_level);
  if (!flags.log_format.empty()) raw.set("log.format", flags.log_format, "--log-format " + flags.log_format);
  if (flags.log_pii) raw.set("log.log_pii", true, "--log-pii");
  auto cfg = config::validate(raw);
  if (!cfg) return start_up_error(cfg.error().message);

  obs::init_logging(obs::LogOptions{cfg->log.level,
                                    cfg->log.format == "json" ? obs::LogFormat::json : obs::LogFormat::text,
                                    cfg->log.log_pii});
  const std::uint64_t fd_limit = net::raise_open_file_limit();
  net::keep_freed_memory_for_reuse();
  obs::emit(obs::ServiceStarting{OMT_VERSION, fd_limit});

  const auto mappings = mappings_location(cfg->mappings_dir, "mappings_dir");
  auto transformer = ometria::Transformer::load(mappings.directory);
  if (!transformer) {
    // Logged (for log pipelines) and said on stderr the way every command says what went wrong.
    obs::emit(obs::MappingsFailed{mappings.directory.string(), transformer.error().message});
    return start_up_error("cannot load the mappings from " + mappings.directory.string() + ": " +
                          transformer.error().message);
  }
  obs::emit(obs::MappingsLoaded{mappings.directory.string(), mappings.chosen_by});
  auto shared_transformer = std::make_shared<const ometria::Transformer>(std::move(*transformer));

  // Signals are taken synchronously by this thread (sigwait), so block them before any server thread exists:
  // threads inherit the mask, and no handler ever runs in the middle of a request.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  obs::Registry metrics;
  // Before the delivery stack, so destroyed after it: the queue's last enqueue answers may still be held back.
  net::DelayedCalls delayed_calls;

  // ---- delivery (queue -> Ometria): only when sources are configured or the queue still holds records ----
  // Declared before the delivery stack, so held until the queue is closed: `queue migrate` refuses meanwhile.
  std::optional<queue::QueueFileLock> queue_lock;
  std::unique_ptr<service::DeliveryStack> delivery;
  std::vector<net::HealthCheck> health_checks;
  auto delivery_wanted = service::DeliveryStack::wanted(*cfg);
  if (!delivery_wanted) return start_up_error(delivery_wanted.error().message);
  if (*delivery_wanted) {
    if (cfg->queue.backend != "postgres") {
      auto lock = queue::QueueFileLock::serve(cfg->queue.path);
      if (!lock) return start_up_error(lock.error().message);
      queue_lock.emplace(std::move(*lock));
    }
    auto started = service::DeliveryStack::start(*cfg, metrics);
    if (!started) return start_up_error(started.error().message);
    delivery = std::move(*started);
    health_checks = delivery->health_checks();
  }
  // ---- end delivery ----

  net::Router router;
  net::add_transformer_routes(router, shared_transformer, metrics);
  net::add_operational_routes(router, metrics, net::ServiceInfo{"ometria-transformer", OMT_VERSION},
                              std::move(health_checks));

  // ---- ingest (/v1/...) into the queue, and the delivery proxy (rudder-server's transformerProxy) ----
  net::IngestContext ingest{.transformer = shared_transformer,
                            .queue = nullptr,  // with delivery: the queue, its notify and run_later, below
                            .sources = cfg->sources,
                            .limits = service::ingest_limits(*cfg),
                            .notify = {},
                            .metrics = &metrics,
                            .run_later = {},
                            .trusted_proxies = cfg->ingest.trusted_proxies,
                            .clock = {}};  // the system clock
  if (delivery) {
    const service::ServiceContext context = delivery->context();
    ingest.queue = &context.queue;
    ingest.notify = [service = &context.delivery] { service->notify(); };
    ingest.run_later = [&delayed_calls](std::chrono::milliseconds delay, std::function<void()> call) {
      delayed_calls.after(delay, std::move(call));
    };
  }
  net::register_ingest_routes(router, std::move(ingest));
  std::shared_ptr<delivery::Sender> proxy_sender;
  try {
    proxy_sender = net::make_threaded_https_sender(service::sender_options(*cfg));
  } catch (const std::exception& e) {
    return start_up_error(std::string("ometria: ") + e.what());
  }
  net::ProxyContext proxy{std::move(proxy_sender), cfg->ometria.endpoint, {}};
  if (delivery)
    if (queue::RequestLog* log = delivery->context().queue.request_log()) proxy.on_pushed = service::proxy_request_logger(*log, metrics);
  net::register_proxy_routes(router, std::move(proxy));

  auto server = net::Server::start(cfg->server, std::move(router), metrics);
  if (!server) {
    obs::emit(obs::StartUpFailed{server.error().message});
    return start_up_error(server.error().message);
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  obs::emit(obs::StopSignalled{signal_number == SIGINT ? "SIGINT" : "SIGTERM", cfg->server.shutdown_deadline});
  delayed_calls.close();  // held-back ingest answers go out now
  const bool drained = (*server)->shutdown(cfg->server.shutdown_deadline);
  if (!drained) obs::emit(obs::RequestsCutOff{});
  // After the server: ingest has stopped enqueueing. Pushes in flight get the same deadline; the rest stays queued.
  if (delivery) delivery->stop(cfg->server.shutdown_deadline);
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "Run the HTTP service (a drop-in rudder-transformer for Ometria)");
  cmd->add_option("--config", flags->config_file, "JSON configuration file")->check(CLI::ExistingFile);
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (default 0.0.0.0:9090; port 0 picks one)");
  flags->threads_option = cmd->add_option("--threads", flags->threads, "Worker threads (default: the number of cores)")
                              ->check(CLI::Range(1u, 1024u))
                              ->default_str("");
  cmd->add_option("--mappings", flags->mappings_dir, "Directory of the mapping tables (default: OMT_MAPPINGS_DIR, else the tables installed with the binary)");
  cmd->add_option("--log-level", flags->log_level,
                  "trace, debug, info, warn, error, critical or off (default info; OMT_LOG_LEVEL sets it too)");
  cmd->add_option("--log-format", flags->log_format, "text or json");
  cmd->add_flag("--log-pii", flags->log_pii,
                "Debugging only: leave e-mail addresses and phone numbers in log lines (API keys stay masked)");
  cmd->footer("Exit status: 0 stopped by SIGTERM or SIGINT (in-flight work drained); 2 could not start "
              "(configuration, mappings, address in use).");
  cmd->callback([flags, &exit_code] { exit_code = run_serve(*flags); });
}

}  // namespace omt::cli
