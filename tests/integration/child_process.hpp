// Runs a program (the real ometria-transformer binary) as a child process for tests: its stderr is captured so
// a test can wait for a log line, it can be signalled, and waiting for it is bounded. The destructor kills a
// child that is still running.
#pragma once

#include <chrono>
#include <optional>
#include <string>
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
  const std::string& output() const { return output_; }  // all stderr read so far
  pid_t pid() const { return pid_; }

  void signal(int signal_number);
  // The exit status (or 128 + signal), nullopt if the child is still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  bool read_more(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string output_;
  bool eof_ = false;
  std::size_t scanned_ = 0;  // lines before this offset were already returned
  std::optional<int> exit_status_;
};

// "listening on 127.0.0.1:PORT" -> PORT (0 if absent).
unsigned short port_from_listening_line(const std::string& line);

}  // namespace omt::test
