// The lock that says a process is serving a SQLite queue file: flock() on a sidecar file beside it (PATH.lock).
// serve holds it shared for its lifetime (several servers may share a file, as before); `queue migrate` takes it
// exclusive, so it refuses while any server holds the file and no server starts while it moves the queue. The
// kernel drops the lock when its holder ends, however it ends (SIGKILL too): a stale lock cannot outlive it.
#pragma once

#include <filesystem>

#include "omt/error.hpp"

namespace omt::queue {

class QueueFileLock {
 public:
  // The sidecar beside a queue file: "data/queue.db" -> "data/queue.db.lock".
  static std::filesystem::path path_for(const std::filesystem::path& queue_file);

  // Taken at once or refused (errc::unavailable, naming the queue): neither ever waits for the other holder.
  // The sidecar (and its directory) is created when missing.
  static Expected<QueueFileLock> serve(const std::filesystem::path& queue_file);
  static Expected<QueueFileLock> exclusive(const std::filesystem::path& queue_file);

  QueueFileLock(QueueFileLock&& other) noexcept;
  QueueFileLock& operator=(QueueFileLock&& other) noexcept;
  QueueFileLock(const QueueFileLock&) = delete;
  QueueFileLock& operator=(const QueueFileLock&) = delete;
  ~QueueFileLock();  // released (the sidecar stays: removing it could race another process taking it)

 private:
  explicit QueueFileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace omt::queue
