// A real PostgreSQL server for tests, started by the tests themselves: initdb in a temporary folder, postgres on a
// free port of 127.0.0.1 (its socket in that folder), stopped and the folder removed at the end. PostgreSQL
// refuses to run as root, so under root (CI) the server runs as the system user `postgres` (scripts/install-deps.sh
// makes sure it exists). Failures throw std::runtime_error with the server's log, so a test fails and says why.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace omt::test {

class PostgresServer {
 public:
  enum class Stop {
    fast,       // SIGINT: clients are disconnected, the server shuts down cleanly
    immediate,  // SIGQUIT: a crash as far as the data is concerned (recovery at the next start)
  };

  // initdb, then start. bindir: where initdb and postgres are (the build's OMT_POSTGRES_BINDIR).
  explicit PostgresServer(std::filesystem::path bindir = OMT_POSTGRES_BINDIR);
  ~PostgresServer();  // stops the server (SIGKILL after a timeout) and removes the folder
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // One server per test process, started on first use (from the main thread: the server is told to stop if the
  // thread that started it ends, so that a crashed test leaves no server behind) and stopped at exit.
  static PostgresServer& shared();

  // A new empty database; returns its URL.
  std::string create_database();
  std::string url(const std::string& database) const;
  std::uint16_t port() const { return port_; }

  void stop(Stop how = Stop::fast);
  // Starts it again on the same port with the same data.
  void start();
  void restart(Stop how = Stop::fast) {
    stop(how);
    start();
  }
  bool running() const { return pid_ > 0; }

 private:
  void run_initdb();
  bool launch_and_wait();  // false: the server exited at once (the port was taken)
  std::string log_tail() const;

  std::filesystem::path bindir_;
  std::filesystem::path dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool switch_user_ = false;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
  std::chrono::seconds start_timeout_{60};
  std::chrono::seconds stop_timeout_{15};
};

}  // namespace omt::test
