#include "postgres_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace omt::test {

namespace {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("postgres_server: socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("postgres_server: no free port: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs argv as the server's user, its output appended to log; returns the child's pid.
pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log, bool switch_user, uid_t uid,
            gid_t gid, bool own_group) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("postgres_server: fork: " + std::string(std::strerror(errno)));
  if (pid > 0) return pid;
  // The child: only async-signal-safe calls from here to exec.
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  const int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, STDIN_FILENO);
  if (own_group) ::setsid();
  if (switch_user && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) ::_exit(126);
  // After the user switch, which clears it: the server stops (fast shutdown) if the test process dies.
  if (own_group) {
    ::prctl(PR_SET_PDEATHSIG, SIGINT);
    if (::getppid() != parent) ::_exit(125);
  }
  ::execv(args[0], args.data());
  ::_exit(127);
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

PostgresServer::PostgresServer(std::filesystem::path bindir) : bindir_(std::move(bindir)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "omt-postgres-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("postgres_server: mkdtemp: " + std::string(std::strerror(errno)));
  dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      throw std::runtime_error("postgres_server: running as root and there is no `postgres` user to run the server as "
                               "(scripts/install-deps.sh creates it)");
    }
    switch_user_ = true;
    uid_ = user->pw_uid;
    gid_ = user->pw_gid;
    if (::chown(dir_.c_str(), uid_, gid_) != 0)
      throw std::runtime_error("postgres_server: chown " + dir_.string() + ": " + std::strerror(errno));
  }
  ::chmod(dir_.c_str(), 0700);
  try {
    run_initdb();
    start();
  } catch (...) {
    if (pid_ > 0) stop(Stop::immediate);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

PostgresServer::~PostgresServer() {
  try {
    if (pid_ > 0) stop(Stop::fast);
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

std::string PostgresServer::log_tail() const {
  std::ifstream in(dir_ / "postgres.log");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
  return text;
}

void PostgresServer::run_initdb() {
  // -N: no fsync of the new files (a test server); trust: the socket and 127.0.0.1 only.
  const pid_t pid = spawn({(bindir_ / "initdb").string(), "-D", (dir_ / "data").string(), "-U", "omt", "-A", "trust",
                           "-E", "UTF8", "--locale=C", "-N"},
                          dir_ / "postgres.log", switch_user_, uid_, gid_, /*own_group=*/false);
  const int status = wait_exit(pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("postgres_server: initdb failed (" + (bindir_ / "initdb").string() + "):\n" + log_tail());
  }
}

void PostgresServer::start() {
  if (pid_ > 0) return;
  const bool keep_port = port_ != 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!keep_port) port_ = free_port();
    if (launch_and_wait()) return;
  }
  throw std::runtime_error("postgres_server: the server would not start:\n" + log_tail());
}

bool PostgresServer::launch_and_wait() {
  pid_ = spawn({(bindir_ / "postgres").string(), "-D", (dir_ / "data").string(), "-p", std::to_string(port_), "-k",
                dir_.string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
                "-c", "shared_buffers=16MB", "-c", "max_connections=40", "-c", "log_min_messages=warning"},
               dir_ / "postgres.log", switch_user_, uid_, gid_, /*own_group=*/true);
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) + " user=omt dbname=postgres connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + start_timeout_;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (PQping(conninfo.c_str()) == PQPING_OK) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop(Stop::immediate);
  throw std::runtime_error("postgres_server: not accepting connections after " + std::to_string(start_timeout_.count()) +
                           " s:\n" + log_tail());
}

void PostgresServer::stop(Stop how) {
  if (pid_ <= 0) return;
  ::kill(pid_, how == Stop::fast ? SIGINT : SIGQUIT);
  const auto deadline = std::chrono::steady_clock::now() + stop_timeout_;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);  // the whole group: the postmaster and its backends
      wait_exit(pid_);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://omt@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::create_database() {
  const std::string name = "omt_test_" + std::to_string(++databases_);
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url("postgres").c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("postgres_server: cannot connect: " + std::string(PQerrorMessage(conn.get())));
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), ("CREATE DATABASE " + name).c_str()),
                                                         &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK)
    throw std::runtime_error("postgres_server: CREATE DATABASE: " + std::string(PQresultErrorMessage(result.get())));
  return url(name);
}

}  // namespace omt::test
