// What the tests of `ometria-transformer import` as the real binary share: an input of n contacts, the records
// and checkpoints committed so far read straight from the queue file, every queued contact's id, and a run of the
// binary under a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: the kernel refuses writes past the size, as a
// full disk does, and that works as root in a container without mount privileges). Header-only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omt/queue/sqlite_queue.hpp"

namespace omt::test {

// n contacts as RudderStack identify events, listing ids L<0>..L<n-1>, split over `files` files in dir.
inline std::vector<std::filesystem::path> write_identifies(const std::filesystem::path& dir, std::size_t n, std::size_t files) {
  std::vector<std::filesystem::path> paths;
  for (std::size_t f = 0; f < files; ++f) {
    paths.push_back(dir / ("part-" + std::to_string(f) + ".jsonl"));
    std::ofstream out(paths.back());
    for (std::size_t i = f * n / files; i < (f + 1) * n / files; ++i) {
      out << R"({"type":"identify","messageId":"m)" << i << R"(","userId":"u)" << i
          << R"(","context":{"traits":{"listingId":"L)" << i << R"(","email":"user)" << i
          << R"(@example.com","firstName":"Ann","lastName":"Example"}},"timestamp":"2024-05-01T10:00:00.000Z"})" << "\n";
    }
  }
  return paths;
}

// A configuration for `import`: the queue at `db` (durability "normal" or "full") and one source "shop" whose
// Ometria key is `api_key`.
inline void write_import_config(const std::filesystem::path& config, const std::filesystem::path& db,
                                const std::string& api_key, const std::string& durability) {
  const nlohmann::json cfg = {
      {"queue", {{"path", db.string()}, {"durability", durability}}},
      {"sources", nlohmann::json::array({{{"name", "shop"}, {"write_key", "wk-shop"}, {"api_key", api_key}}})}};
  std::ofstream(config) << cfg.dump(2);
}

// A query's first column, one line per row, on a connection of its own beside whatever else has the file open
// (WAL); or what went wrong.
inline std::string query_queue_file(const std::filesystem::path& db, const char* sql) {
  sqlite3* handle = nullptr;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(handle);
    return "cannot open " + db.string();
  }
  sqlite3_busy_timeout(handle, 5000);
  std::string out;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(handle, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    out = std::string("cannot prepare: ") + sqlite3_errmsg(handle);
  } else {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out += (out.empty() ? "" : "\n") + std::string(text ? text : "");
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return out;
}

// The records every import run has committed so far (their checkpoints' count).
inline std::int64_t committed_records(const std::filesystem::path& db) {
  if (!std::filesystem::exists(db)) return 0;
  return std::stoll("0" + query_queue_file(db, "SELECT COALESCE(SUM(records), 0) FROM import_runs"));
}

// The ids of the key's records of `type` waiting in the backfill lane, in queue order (leased for a minute: read
// them once).
inline std::vector<std::string> queued_record_ids(const std::filesystem::path& db, const std::string& api_key,
                                                  ometria::RecordType type = ometria::RecordType::contact) {
  std::vector<std::string> ids;
  queue::SqliteQueueOptions options;
  options.path = db;
  auto q = queue::SqliteQueue::open(options);
  if (!q) throw std::runtime_error(q.error().message);
  auto leased = (*q)->lease(api_key, type, queue::Lane::backfill, 10'000'000, std::chrono::minutes(1));
  if (!leased) throw std::runtime_error(leased.error().message);
  for (const auto& r : leased->records) ids.push_back(nlohmann::json::parse(r.json)["id"].get<std::string>());
  return ids;
}
inline std::vector<std::string> queued_contact_ids(const std::filesystem::path& db, const std::string& api_key) {
  return queued_record_ids(db, api_key, ometria::RecordType::contact);
}

struct LimitedRun {
  int exit_code = -1;  // 128 + signal if killed by one
  std::string output;  // stdout and stderr
};

// The binary with `args`, no file it writes allowed past `max_file_bytes`. fork + exec, not the shell's ulimit
// (whose unit differs between shells); only async-signal-safe calls between them.
inline LimitedRun run_with_file_size_limit(const std::vector<std::string>& args, rlim_t max_file_bytes) {
  std::vector<std::string> storage = {OMT_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const rlimit limit{max_file_bytes, max_file_bytes};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(126);
    signal(SIGXFSZ, SIG_IGN);  // a refused write, not a killed process: what a full disk looks like
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  LimitedRun run;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) run.output.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace omt::test
