#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace omt::test {

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::vector<std::string>& extra_env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The child logs at info whatever the test's environment says, so its "listening on" line is always there.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "OMT_LOG_LEVEL=", 14) != 0) env_storage.emplace_back(*e);
  }
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int rc = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + program + ": " + std::strerror(rc));
  }
  stderr_fd_ = fds[0];
  reader_ = std::thread([this] { read_stderr(); });
}

ChildProcess::~ChildProcess() {
  if (!exit_status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  // A grandchild could hold the pipe open: the reader also stops on this flag, not only at end of output.
  stop_reading_ = true;
  if (reader_.joinable()) reader_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

void ChildProcess::read_stderr() {
  char buf[16384];
  while (!stop_reading_) {
    pollfd p{stderr_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    const ssize_t n = ready > 0 ? read(stderr_fd_, buf, sizeof buf) : -1;
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      eof_ = true;
      output_changed_.notify_all();
      return;
    }
    output_.append(buf, static_cast<std::size_t>(n));
    output_changed_.notify_all();
  }
}

std::string ChildProcess::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

std::optional<std::string> ChildProcess::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t start = scanned_;  // lines before `start` were looked at by this call already
  while (true) {
    while (true) {
      const auto end = output_.find('\n', start);
      if (end == std::string::npos) break;
      std::string line = output_.substr(start, end - start);
      start = end + 1;
      if (line.find(needle) != std::string::npos) {
        scanned_ = start;
        return line;
      }
    }
    if (eof_) return std::nullopt;  // the child exited without that line
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    output_changed_.wait_until(lock, deadline);  // then look at what came in (once more after a timeout)
  }
}

void ChildProcess::signal(int signal_number) {
  if (pid_ > 0 && !exit_status_) kill(pid_, signal_number);
}

void ChildProcess::wait_for_eof(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  output_changed_.wait_for(lock, timeout, [this] { return eof_; });
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      wait_for_eof(std::chrono::seconds(5));  // the rest of its output
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    // No descriptor to wait on for a child's exit (short of pidfd): poll waitpid.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

unsigned short port_from_listening_line(const std::string& line) {
  const auto at = line.find("listening on ");
  if (at == std::string::npos) return 0;
  const auto colon = line.find(':', line.find("127.0.0.1", at));
  if (colon == std::string::npos) return 0;
  return static_cast<unsigned short>(std::stoul(line.substr(colon + 1)));
}

}  // namespace omt::test
