// Runs a program (the real ometria-transformer binary) as a child process for tests: its stderr is captured so
// a test can wait for a log line, it can be signalled, and waiting for it is bounded. A reader thread drains
// stderr all the time, so a child logging a line per push never blocks on a full pipe while the test is busy
// elsewhere. The destructor kills a child that is still running.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace omt::test {

class ChildProcess {
 public:
  // `extra_env` ("NAME=value") is added to the test's environment (OMT_LOG_LEVEL is never inherited).
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::vector<std::string>& extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits for a stderr line containing `needle` and returns it; nullopt on timeout or end of output.
  std::optional<std::string> wait_for_line(const std::string& needle, std::chrono::milliseconds timeout);
  std::string output() const;  // all stderr read so far
  pid_t pid() const { return pid_; }

  void signal(int signal_number);
  // The exit status (or 128 + signal), nullopt if the child is still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  void read_stderr();  // the reader thread
  // Waits (bounded) until the reader has seen the end of the child's stderr.
  void wait_for_eof(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable output_changed_;
  std::string output_;       // guarded by mutex_
  bool eof_ = false;         // guarded by mutex_
  std::size_t scanned_ = 0;  // lines before this offset were already returned
  std::optional<int> exit_status_;
  std::atomic<bool> stop_reading_{false};
  std::thread reader_;
};

// "listening on 127.0.0.1:PORT" -> PORT (0 if absent).
unsigned short port_from_listening_line(const std::string& line);

}  // namespace omt::test
