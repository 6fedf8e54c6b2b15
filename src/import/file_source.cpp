// Plain and gzip input files. Both read the disk through one fixed buffer; gzip inflates into the caller's buffer,
// so neither holds more than file_buffer_bytes of a file however large it is.
#include "omt/import/file_source.hpp"

#include <fcntl.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace omt::import {
namespace {

Error io_error(const std::filesystem::path& file, const std::string& what) {
  return Error{errc::io, file.string() + ": " + what, file.string()};
}

// A FILE* closed with the source.
struct FileHandle {
  std::FILE* f = nullptr;
  FileHandle() = default;
  explicit FileHandle(std::FILE* file) : f(file) {}
  FileHandle(FileHandle&& other) noexcept : f(other.f) { other.f = nullptr; }
  FileHandle& operator=(FileHandle&&) = delete;
  ~FileHandle() {
    if (f) std::fclose(f);
  }
};

Expected<FileHandle> open_for_reading(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) return tl::unexpected(io_error(file, "is a folder, not a file"));
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return tl::unexpected(io_error(file, std::string("cannot open: ") + std::strerror(errno)));
  // Read once, front to back: the kernel may read further ahead.
  (void)::posix_fadvise(::fileno(f), 0, 0, POSIX_FADV_SEQUENTIAL);
  return FileHandle(f);
}

class PlainSource final : public ByteSource {
 public:
  PlainSource(std::filesystem::path file, FileHandle handle) : file_(std::move(file)), handle_(std::move(handle)) {}
  Expected<std::size_t> read(char* out, std::size_t max) override {
    const std::size_t n = std::fread(out, 1, max, handle_.f);
    if (n == 0 && std::ferror(handle_.f)) return tl::unexpected(io_error(file_, std::string("read failed: ") + std::strerror(errno)));
    bytes_ += n;
    return n;
  }
  std::uint64_t bytes_read() const override { return bytes_; }

 private:
  std::filesystem::path file_;
  FileHandle handle_;
  std::uint64_t bytes_ = 0;
};

class GzipSource final : public ByteSource {
 public:
  GzipSource(std::filesystem::path file, FileHandle handle)
      : file_(std::move(file)), handle_(std::move(handle)), in_(file_buffer_bytes) {}
  ~GzipSource() override {
    if (started_) inflateEnd(&stream_);
  }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  Expected<std::size_t> read(char* out, std::size_t max) override {
    if (!started_) {
      std::memset(&stream_, 0, sizeof stream_);
      if (inflateInit2(&stream_, 15 + 16) != Z_OK) return tl::unexpected(io_error(file_, "cannot start gzip decoding"));
      started_ = true;
    }
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    stream_.avail_out = static_cast<uInt>(std::min<std::size_t>(max, 1u << 30));
    while (stream_.avail_out == static_cast<uInt>(std::min<std::size_t>(max, 1u << 30)) && !finished_) {
      if (stream_.avail_in == 0) {
        const std::size_t n = std::fread(in_.data(), 1, in_.size(), handle_.f);
        if (n == 0 && std::ferror(handle_.f)) return tl::unexpected(io_error(file_, std::string("read failed: ") + std::strerror(errno)));
        bytes_ += n;
        if (n == 0) {
          // The end of the file: fine between members, a truncated file inside one.
          if (in_member_) return tl::unexpected(io_error(file_, "truncated gzip: the file ends inside compressed data"));
          finished_ = true;
          break;
        }
        stream_.next_in = reinterpret_cast<Bytef*>(in_.data());
        stream_.avail_in = static_cast<uInt>(n);
      }
      in_member_ = true;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // Another member may follow (concatenated gzip files are one text).
        in_member_ = false;
        if (inflateReset(&stream_) != Z_OK) return tl::unexpected(io_error(file_, "cannot continue gzip decoding"));
        continue;
      }
      if (rc == Z_BUF_ERROR) continue;  // needs more input
      if (rc != Z_OK) {
        return tl::unexpected(io_error(file_, std::string("not valid gzip data: ") + (stream_.msg ? stream_.msg : "inflate failed")));
      }
    }
    return static_cast<std::size_t>(std::min<std::size_t>(max, 1u << 30) - stream_.avail_out);
  }
  std::uint64_t bytes_read() const override { return bytes_; }

 private:
  std::filesystem::path file_;
  FileHandle handle_;
  std::vector<char> in_;
  z_stream stream_{};
  bool started_ = false;
  bool in_member_ = false;  // inside a gzip member: the end of the file here is a truncation
  bool finished_ = false;
  std::uint64_t bytes_ = 0;
};

}  // namespace

Expected<std::unique_ptr<ByteSource>> open_plain_source(const std::filesystem::path& file) {
  auto handle = open_for_reading(file);
  if (!handle) return tl::unexpected(handle.error());
  return std::unique_ptr<ByteSource>(std::make_unique<PlainSource>(file, std::move(*handle)));
}

Expected<std::unique_ptr<ByteSource>> open_gzip_source(const std::filesystem::path& file) {
  auto handle = open_for_reading(file);
  if (!handle) return tl::unexpected(handle.error());
  return std::unique_ptr<ByteSource>(std::make_unique<GzipSource>(file, std::move(*handle)));
}

Expected<bool> is_gzip_file(const std::filesystem::path& file) {
  if (file.extension() == ".gz") return true;
  auto handle = open_for_reading(file);
  if (!handle) return tl::unexpected(handle.error());
  unsigned char magic[2] = {0, 0};
  const std::size_t n = std::fread(magic, 1, 2, handle->f);
  return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

Expected<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& file) {
  auto gzip = is_gzip_file(file);
  if (!gzip) return tl::unexpected(gzip.error());
  return *gzip ? open_gzip_source(file) : open_plain_source(file);
}

}  // namespace omt::import
