#include "omt/import/byte_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace omt::import {
namespace {

class FileSource final : public ByteSource {
 public:
  FileSource(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  ~FileSource() override { std::fclose(file_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Expected<std::size_t> read(char* out, std::size_t size) override {
    const std::size_t got = std::fread(out, 1, size, file_);
    if (got == 0 && std::ferror(file_))
      return fail(errc::io, "cannot read " + name_ + ": " + std::strerror(errno), name_);
    consumed_ += got;
    return got;
  }
  std::uint64_t bytes_consumed() const override { return consumed_; }

 private:
  std::FILE* file_;
  std::string name_;
  std::uint64_t consumed_ = 0;
};

class StringSource final : public ByteSource {
 public:
  StringSource(std::string text, std::size_t chunk) : text_(std::move(text)), chunk_(std::max<std::size_t>(chunk, 1)) {}
  Expected<std::size_t> read(char* out, std::size_t size) override {
    const std::size_t n = std::min({size, chunk_, text_.size() - at_});
    std::memcpy(out, text_.data() + at_, n);
    at_ += n;
    return n;
  }
  std::uint64_t bytes_consumed() const override { return at_; }

 private:
  std::string text_;
  std::size_t chunk_;
  std::size_t at_ = 0;
};

}  // namespace

Expected<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr)
    return fail(errc::io, "cannot open " + path.string() + ": " + std::strerror(errno), path.string());
  // Reads come in large chunks already: stdio's own buffer would only copy them once more.
  std::setvbuf(file, nullptr, _IONBF, 0);
  return std::unique_ptr<ByteSource>(std::make_unique<FileSource>(file, path.string()));
}

std::unique_ptr<ByteSource> string_source(std::string text, std::size_t chunk) {
  return std::make_unique<StringSource>(std::move(text), chunk);
}

}  // namespace omt::import
