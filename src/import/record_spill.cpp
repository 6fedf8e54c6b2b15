// SpillWriter / SpillReader: records as (line, end offset, length, JSON), fixed-width native integers; the file
// lives only as long as one import process, so no portable encoding is needed.
#include "omt/import/record_spill.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace omt::import {

namespace {

constexpr std::size_t kBufferBytes = 1u << 20;
constexpr std::uint32_t kMaxRecordBytes = 64u << 20;  // far above any record (60 KB): a larger length is damage
constexpr std::uint64_t kCheckFreeEvery = 64ull << 20;

Error spill_error(const std::filesystem::path& path, const std::string& what) {
  return Error{errc::io, "import: spill " + path.string() + ": " + what, {}};
}

}  // namespace

Expected<SpillWriter> SpillWriter::create(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) return tl::unexpected(spill_error(file, std::strerror(errno)));
  std::setvbuf(f, nullptr, _IOFBF, kBufferBytes);
  return SpillWriter(f, file);
}

SpillWriter::SpillWriter(SpillWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)), written_(other.written_),
      checked_at_(other.checked_at_) {}

SpillWriter& SpillWriter::operator=(SpillWriter&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
    written_ = other.written_;
    checked_at_ = other.checked_at_;
  }
  return *this;
}

SpillWriter::~SpillWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Expected<void> SpillWriter::add(std::uint64_t line, std::uint64_t end_offset, std::string_view json) {
  if (file_ == nullptr) return tl::unexpected(spill_error(path_, "closed"));
  const auto length = static_cast<std::uint32_t>(json.size());
  if (std::fwrite(&line, sizeof line, 1, file_) != 1 || std::fwrite(&end_offset, sizeof end_offset, 1, file_) != 1 ||
      std::fwrite(&length, sizeof length, 1, file_) != 1 || std::fwrite(json.data(), 1, json.size(), file_) != json.size()) {
    return tl::unexpected(spill_error(path_, std::strerror(errno)));
  }
  written_ += sizeof line + sizeof end_offset + sizeof length + json.size();
  if (written_ - checked_at_ >= kCheckFreeEvery) {
    checked_at_ = written_;
    std::error_code ec;
    const auto space = std::filesystem::space(path_.parent_path(), ec);
    if (ec || space.available < spill_min_free_bytes) {
      return tl::unexpected(spill_error(path_, "less than 1 GiB left free beside it"));
    }
  }
  return {};
}

Expected<void> SpillWriter::close() {
  if (file_ == nullptr) return {};
  const bool ok = std::fflush(file_) == 0;
  const int error = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) return tl::unexpected(spill_error(path_, std::strerror(error)));
  return {};
}

Expected<SpillReader> SpillReader::open(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) return tl::unexpected(spill_error(file, std::strerror(errno)));
  std::setvbuf(f, nullptr, _IOFBF, kBufferBytes);
  return SpillReader(f, file);
}

SpillReader::SpillReader(SpillReader&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)) {}

SpillReader& SpillReader::operator=(SpillReader&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

SpillReader::~SpillReader() {
  if (file_ != nullptr) std::fclose(file_);
}

Expected<std::optional<SpilledRecord>> SpillReader::next() {
  SpilledRecord r;
  std::uint32_t length = 0;
  const std::size_t got = std::fread(&r.line, sizeof r.line, 1, file_);
  if (got == 0) {
    if (std::ferror(file_)) return tl::unexpected(spill_error(path_, std::strerror(errno)));
    return std::optional<SpilledRecord>{};
  }
  if (std::fread(&r.end_offset, sizeof r.end_offset, 1, file_) != 1 || std::fread(&length, sizeof length, 1, file_) != 1 ||
      length > kMaxRecordBytes) {
    return tl::unexpected(spill_error(path_, "cut short or damaged"));
  }
  r.json.resize(length);
  if (length > 0 && std::fread(r.json.data(), 1, length, file_) != length) {
    return tl::unexpected(spill_error(path_, "cut short"));
  }
  return std::optional<SpilledRecord>(std::move(r));
}

}  // namespace omt::import
