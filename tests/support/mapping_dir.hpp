// For tests: a copy of the project's mappings/ in a fresh temp directory, removed again by the destructor,
// in which a test rewrites or edits one file to see how the loader (or the binary) takes it.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace omt::test {

inline std::filesystem::path project_mappings_dir() { return std::filesystem::path(OMT_SOURCE_DIR) / "mappings"; }

class MappingDir {
 public:
  MappingDir()
      : dir_(std::filesystem::temp_directory_path() /
             ("omt-mappings-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    std::filesystem::create_directories(dir_);
    std::filesystem::copy(project_mappings_dir(), dir_, std::filesystem::copy_options::recursive);  // import/ too
  }
  ~MappingDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  MappingDir(const MappingDir&) = delete;
  MappingDir& operator=(const MappingDir&) = delete;

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name, std::ios::trunc) << text; }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // Replaces the one occurrence of `from` in the file; a `from` that is not there exactly once is a broken test.
  void replace(const std::string& name, const std::string& from, const std::string& to) {
    std::string text = read(name);
    const auto at = text.find(from);
    if (at == std::string::npos || text.find(from, at + 1) != std::string::npos)
      throw std::logic_error(name + " does not hold \"" + from + "\" exactly once");
    write(name, text.replace(at, from.size(), to));
  }
  const std::filesystem::path& path() const { return dir_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

}  // namespace omt::test
