#include "cli/mappings_location.hpp"

#include <cstdlib>
#include <system_error>

namespace omt::cli {

namespace fs = std::filesystem;

namespace {

// The running binary's folder (Linux: /proc/self/exe, the path of the file itself with links resolved).
fs::path binary_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path{} : exe.parent_path();
}

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

}  // namespace

MappingsLocation default_mappings_location() {
  if (const char* env = std::getenv("OMT_MAPPINGS_DIR"); env && *env) return {env, "OMT_MAPPINGS_DIR"};
  const fs::path bin = binary_dir();
  // A build tree: the binary sits where CMake built it, beside no installed tables.
  if (!bin.empty() && same_folder(bin, OMT_BUILD_BINARY_DIR)) return {OMT_SOURCE_MAPPINGS_DIR, "the build's source tree"};
  return {bin.parent_path() / OMT_INSTALL_MAPPINGS_SUBDIR, "installed beside the binary"};
}

MappingsLocation mappings_location(const fs::path& explicit_dir, std::string explicit_by) {
  if (!explicit_dir.empty()) return {explicit_dir, std::move(explicit_by)};
  return default_mappings_location();
}

}  // namespace omt::cli
