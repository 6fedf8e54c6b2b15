// A real file system that really fills: a tmpfs of a few MiB mounted on a fresh temporary folder, so that tests
// meet ENOSPC (SQLITE_FULL) as a full disk gives it, not a simulation. grow() makes room again (a remount with a
// larger size, the files kept); the destructor unmounts it and removes the folder, on every exit path. Needs root
// with CAP_SYS_ADMIN: a refused mount throws, naming the mount command, so the test fails, never skips.
// Header-only.
#pragma once

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace omt::testing {

class TmpfsMount {
 public:
  explicit TmpfsMount(std::uint64_t mib) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/omt-tmpfs-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
    path_ = pattern;
    const std::string options = size_option(mib) + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      std::error_code ec;
      std::filesystem::remove(path_, ec);
      throw std::runtime_error("`mount -t tmpfs -o " + options + " tmpfs " + path_.string() + "` was refused (" + why +
                               "): the full-disk tests need root with CAP_SYS_ADMIN");
    }
  }
  ~TmpfsMount() {
    // MNT_DETACH: gone at once even while a child killed with the test still holds a file open in it.
    ::umount2(path_.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // `mount -o remount,size=<mib>m`: what is in it stays.
  void grow(std::uint64_t mib) const {
    const std::string options = size_option(mib);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, options.c_str()) != 0)
      throw std::runtime_error("`mount -o remount," + options + " " + path_.string() + "` was refused (" +
                               std::strerror(errno) + ")");
  }

  // The bytes a writer could still add.
  std::uint64_t available() const {
    struct statvfs s {};
    if (::statvfs(path_.c_str(), &s) != 0) return 0;
    return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
  }

 private:
  static std::string size_option(std::uint64_t mib) { return "size=" + std::to_string(mib) + "m"; }
  std::filesystem::path path_;
};

}  // namespace omt::testing
