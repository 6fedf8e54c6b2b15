// flock() rather than fcntl() locks: an flock lock belongs to the open file, so it is not dropped when some other
// part of the process (SQLite itself) closes another descriptor of the same file, and it ends with the process.
#include "omt/queue/queue_file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace omt::queue {
namespace {

Expected<int> open_sidecar(const std::filesystem::path& lock_file) {
  if (lock_file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(lock_file.parent_path(), ec);
    if (ec) {
      return fail(errc::io, "queue: cannot create directory " + lock_file.parent_path().string() + ": " + ec.message(),
                  lock_file.string());
    }
  }
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail(errc::io, "queue: cannot open the lock file " + lock_file.string() + ": " + std::strerror(errno), lock_file.string());
  return fd;
}

Expected<int> take(const std::filesystem::path& queue_file, int operation, const char* refused) {
  const auto lock_file = QueueFileLock::path_for(queue_file);
  auto fd = open_sidecar(lock_file);
  if (!fd) return tl::unexpected(fd.error());
  int rc;
  do rc = ::flock(*fd, operation | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc == 0) return *fd;
  const int error = errno;
  ::close(*fd);
  if (error == EWOULDBLOCK) {
    return fail(errc::unavailable, "queue: " + queue_file.string() + " " + refused + " (" + lock_file.string() + " is locked)",
                queue_file.string());
  }
  return fail(errc::io, "queue: cannot lock " + lock_file.string() + ": " + std::strerror(error), lock_file.string());
}

}  // namespace

std::filesystem::path QueueFileLock::path_for(const std::filesystem::path& queue_file) {
  return std::filesystem::path(queue_file.string() + ".lock");
}

Expected<QueueFileLock> QueueFileLock::serve(const std::filesystem::path& queue_file) {
  auto fd = take(queue_file, LOCK_SH, "is being moved by `queue migrate`; serve it once the migration has finished");
  if (!fd) return tl::unexpected(fd.error());
  return QueueFileLock(*fd);
}

Expected<QueueFileLock> QueueFileLock::exclusive(const std::filesystem::path& queue_file) {
  auto fd = take(queue_file, LOCK_EX, "is held by a running server (or another migration): stop it first");
  if (!fd) return tl::unexpected(fd.error());
  return QueueFileLock(*fd);
}

QueueFileLock::QueueFileLock(QueueFileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

QueueFileLock& QueueFileLock::operator=(QueueFileLock&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

QueueFileLock::~QueueFileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor of the open file releases the flock
}

}  // namespace omt::queue
