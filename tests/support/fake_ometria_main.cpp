// fake-ometria: the fake Ometria push API as a program, for trials, benchmarks and docker compose.
//   fake-ometria --listen 127.0.0.1:0 --keys k1,k2 [--refuse-key KEY=STATUS]... [--status CODE [--retry-after S]]
//                [--tls-dir DIR [--tls-name NAME,...]] [--out FILE] [--port-file FILE] [--threads N] [--max-records N]
//                [--reject-later ID=MESSAGE]... [--errors-with-ids] [--rate-limit N]
// Prints the bound port alone on the first line of stdout, then (without --out) one JSON line per accepted record:
//   {"api_key":"k1","push":7,"record":{...}}
// With --tls-dir, serves HTTPS with DIR/cert.pem and DIR/key.pem, made (with DIR/ca.pem to trust) if absent.
// GET /_fake/stats answers {"records":N,"pushes":N,"requests":N} (records accepted so far); GET /_fake/rates
// {"rate_limited":N,"pushes_per_key_second":{KEY:{UNIX_SECOND:N}},"most_pushes_in_any_second":{KEY:N}} (pushes
// received per key and wall-clock second, and the most within any sliding second, over the last 300 s;
// /_fake/rates?window_ms=N slides a window of N ms instead). With --rate-limit N, more than N pushes of one key within a second are answered 429 with Retry-After: 1.
// GET /v2/push/_errors lists the records of --reject-later accepted and then rejected, as Ometria's later validation does.
// Runs until SIGINT or SIGTERM, then prints its counts on stderr.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "fake_ometria.hpp"

int main(int argc, char** argv) {
  CLI::App app{"fake-ometria: a fake Ometria push API (POST /v2/push) for trials, tests and benchmarks.\n"
               "Prints the port it listens on alone on the first line of stdout, then one JSON line per accepted\n"
               "record ({\"api_key\":...,\"push\":N,\"record\":{...}}) unless --out is given.\n"
               "GET /_fake/stats answers {\"records\":N,\"pushes\":N,\"requests\":N}; GET /_fake/rates answers\n"
               "{\"rate_limited\":N,\"pushes_per_key_second\":{KEY:{UNIX_SECOND:N}},\n"
               "\"most_pushes_in_any_second\":{KEY:N}} (a sliding second); GET /v2/push/_errors lists the\n"
               "records of --reject-later, accepted and then rejected.\n"
               "Exit status: 0 stopped by SIGINT/SIGTERM; 1 could not start; 2 bad options."};
  app.get_formatter()->column_width(34);
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> keys;
  std::string tls_dir, out_path, port_file;
  std::vector<std::string> tls_names;
  int threads = 1;
  std::size_t max_records = 100;
  std::vector<std::string> refused_keys;
  int every_status = 0;
  std::string retry_after;
  std::vector<std::string> later_rejections;
  bool errors_with_ids = false;
  app.add_option("--listen", listen, "address:port to listen on (port 0: any free port)")->capture_default_str();
  app.add_option("--keys", keys, "accepted X-Ometria-Auth keys (others get 401)")->delimiter(',')->required();
  app.add_option("--refuse-key", refused_keys,
                 "answer every push with KEY by STATUS, e.g. KEY=401 to rehearse a held key (repeatable)");
  app.add_option("--status", every_status,
                 "answer every push with this status, e.g. 400 (dead letters), 429 or 503 (retries); 0: normally")
      ->check(CLI::Range(0, 599))
      ->capture_default_str();
  app.add_option("--retry-after", retry_after, "with --status: the Retry-After header to send, in seconds")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--reject-later", later_rejections,
                 "accept the record with this id, then list it in GET /v2/push/_errors with MESSAGE (repeatable)");
  app.add_flag("--errors-with-ids", errors_with_ids,
               "GET /v2/push/_errors entries also carry record_id, request_id, record_type, time_stamp (UNVERIFIED shape)");
  app.add_option("--tls-dir", tls_dir, "serve HTTPS with DIR/cert.pem + DIR/key.pem (made with DIR/ca.pem if absent)");
  app.add_option("--tls-name", tls_names, "extra host names for a made certificate (e.g. a compose service name)")
      ->delimiter(',');
  app.add_option("--out", out_path, "write received records as JSON lines to this file instead of stdout");
  app.add_option("--port-file", port_file, "also write the bound port to this file");
  app.add_option("--threads", threads, "server threads")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--max-records", max_records, "records allowed per push (413 above)")->capture_default_str();
  std::size_t rate_limit = 0;
  app.add_option("--rate-limit", rate_limit,
                 "pushes allowed per key within a second; more are answered 429 with Retry-After: 1 (0: no limit)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "fake-ometria: --listen must be address:port\n";
    return 2;
  }
  std::vector<std::pair<std::string, int>> refusals;
  for (const auto& spec : refused_keys) {
    const auto eq = spec.rfind('=');
    int status = 0;
    if (eq != std::string::npos && eq > 0) {
      try {
        status = std::stoi(spec.substr(eq + 1));
      } catch (const std::exception&) {
        status = 0;
      }
    }
    if (status < 400 || status > 599) {
      std::cerr << "fake-ometria: --refuse-key must be KEY=STATUS with a 4xx or 5xx status, got '" << spec << "'\n";
      return 2;
    }
    refusals.emplace_back(spec.substr(0, eq), status);
  }
  std::vector<std::pair<std::string, std::string>> rejections;
  for (const auto& spec : later_rejections) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      std::cerr << "fake-ometria: --reject-later must be ID=MESSAGE, got '" << spec << "'\n";
      return 2;
    }
    rejections.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
  }
  if (every_status != 0 && every_status < 400) {
    std::cerr << "fake-ometria: --status must be 0 or a 4xx or 5xx status, got " << every_status << "\n";
    return 2;
  }
  if (!retry_after.empty() && every_status == 0) {
    std::cerr << "fake-ometria: --retry-after goes with --status\n";
    return 2;
  }

  // SIGINT/SIGTERM are taken synchronously by sigwait below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::FILE* out = stdout;
  if (!out_path.empty()) {
    out = std::fopen(out_path.c_str(), "w");
    if (!out) {
      std::cerr << "fake-ometria: cannot open " << out_path << "\n";
      return 2;
    }
  }
  std::mutex out_mutex;

  omt::testing::FakeOmetriaOptions options;
  options.address = listen.substr(0, colon);
  options.port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
  options.keys = keys;
  options.threads = threads;
  options.max_records = max_records;
  options.rate_limit = rate_limit;
  options.keep_records = false;
  options.on_push = [&](const omt::testing::ReceivedPush& push, const std::vector<omt::testing::ReceivedRecord>& records) {
    std::string lines;
    for (const auto& r : records) {
      // api_key is a configured test key; the record is already compact JSON.
      lines += R"({"api_key":")" + r.api_key + R"(","push":)" + std::to_string(push.number) + R"(,"record":)" + r.json + "}\n";
    }
    std::lock_guard lock(out_mutex);
    std::fwrite(lines.data(), 1, lines.size(), out);
    std::fflush(out);
  };
  try {
    if (!tls_dir.empty()) {
      namespace fs = std::filesystem;
      fs::create_directories(tls_dir);
      if (!fs::exists(tls_dir + "/cert.pem") || !fs::exists(tls_dir + "/key.pem")) {
        omt::testing::make_test_pki(tls_dir, tls_names);
        std::cerr << "fake-ometria: made a test CA; trust " << tls_dir << "/ca.pem\n";
      }
      options.tls = true;
      options.cert_file = tls_dir + "/cert.pem";
      options.key_file = tls_dir + "/key.pem";
    }
    omt::testing::FakeOmetria fake(options);
    for (const auto& [key, status] : refusals) fake.set_key_status(key, status);
    for (const auto& [id, message] : rejections) fake.reject_later(id, message);
    fake.list_errors_with_ids(errors_with_ids);
    if (every_status != 0) {
      fake.set_status_for_every_push(every_status,
                                     retry_after.empty() ? std::nullopt : std::optional<std::string>(retry_after));
    }
    {
      std::lock_guard lock(out_mutex);
      std::fprintf(stdout, "%u\n", static_cast<unsigned>(fake.port()));
      std::fflush(stdout);
    }
    if (!port_file.empty()) {
      const std::string tmp = port_file + ".tmp";
      if (std::FILE* f = std::fopen(tmp.c_str(), "w")) {
        std::fprintf(f, "%u\n", static_cast<unsigned>(fake.port()));
        std::fclose(f);
        std::filesystem::rename(tmp, port_file);  // readers never see a half-written file
      }
    }
    std::cerr << "fake-ometria: listening on " << fake.url() << "\n";
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    fake.stop();
    std::cerr << "fake-ometria: " << fake.request_count() << " requests, " << fake.record_count() << " records, "
              << fake.connections_accepted() << " connections\n";
  } catch (const std::exception& e) {
    std::cerr << "fake-ometria: " << e.what() << "\n";
    return 1;
  }
  if (out != stdout) std::fclose(out);
  return 0;
}
