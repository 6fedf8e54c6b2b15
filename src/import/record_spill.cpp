// SpillWriter / SpillReader / RecordSpill. A file: the magic, then per record a header (length, CRC-32C of what
// follows it, line, end offset, item) and the JSON, then the end mark (length kEndMark, CRC-32C, count, last line, last
// end offset). Fixed-width native integers: the file lives only as long as one import process. Version 2 ("omtspl2"):
// CRC-32C (the CPU's instruction where it has one) in place of version 1's zlib CRC-32, and a record's item (its
// third number, unused in version 1); the layout is the same.
#include "omt/import/record_spill.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace omt::import {

namespace {

constexpr char kMagic[8] = {'o', 'm', 't', 's', 'p', 'l', '2', '\n'};
constexpr std::uint32_t kMaxRecordBytes = 64u << 20;   // far above any record (60 KB): a larger length is damage
constexpr std::uint32_t kEndMark = 0xFFFFFFFFu;        // a length no record has
constexpr std::uint64_t kCheckRoomEvery = 64ull << 20;

struct Header {
  std::uint32_t length = 0;
  std::uint32_t crc = 0;  // of the three numbers below and the JSON (the end mark: of its three numbers)
  std::uint64_t a = 0, b = 0, c = 0;  // a record: line, end offset, item; the end mark: count, last line, last end
};
static_assert(sizeof(Header) == 32);

// ---- CRC-32C (Castagnoli): SSE4.2's crc32 instruction when the CPU has it, else a table ----

constexpr std::uint32_t kCrc32cPolynomial = 0x82F63B78u;  // reflected

struct Crc32cTable {
  std::uint32_t entries[256];
  constexpr Crc32cTable() : entries() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCrc32cPolynomial : c >> 1;
      entries[i] = c;
    }
  }
};
constexpr Crc32cTable kCrc32cTable;

std::uint32_t crc32c_portable(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) crc = kCrc32cTable.entries[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  std::uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}
bool have_sse42() {
  static const bool yes = [] {
    __builtin_cpu_init();  // may run before the constructors that would have done it
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return yes;
}
#endif

// The running CRC-32C of more bytes (pre- and post-inverted by the caller: crc_of).
std::uint32_t crc32c_update(std::uint32_t crc, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (have_sse42()) return crc32c_sse42(crc, p, n);
#endif
  return crc32c_portable(crc, p, n);
}

std::uint32_t crc_of(const Header& h, std::string_view json) {
  std::uint32_t crc = 0xFFFFFFFFu;
  crc = crc32c_update(crc, &h.a, 3 * sizeof(std::uint64_t));
  if (!json.empty()) crc = crc32c_update(crc, json.data(), json.size());
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace

std::uint32_t spill_crc32c(std::string_view bytes, bool portable) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::uint32_t crc = portable ? crc32c_portable(0xFFFFFFFFu, p, bytes.size()) : crc32c_update(0xFFFFFFFFu, p, bytes.size());
  return crc ^ 0xFFFFFFFFu;
}

namespace {

Error spill_error(const std::filesystem::path& path, const std::string& what) {
  return Error{errc::io, "import: the plan's spill " + path.string() + ": " + what, path.string()};
}

std::string errno_text() { return std::strerror(errno); }
std::string errno_text(int e) { return std::strerror(e); }

// Written and read through the page cache. Writing past it (O_DIRECT) was measured slower: the import waits for
// the disk at every block (bench/load/import.sh, 1,000,000 events: two runs of both builds, one in each order).
Expected<SpillFile> open_spill(const std::filesystem::path& file, int flags, const char* what) {
  const int fd = ::open(file.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected(spill_error(file, std::string(what) + errno_text()));
  SpillFile f(fd);
  if (!f.usable()) return tl::unexpected(spill_error(file, "no memory for its buffer"));
  return f;
}

}  // namespace

// ---- SpillFile ----

SpillFile::SpillFile(int fd) : fd_(fd), buffer_(static_cast<char*>(std::malloc(spill_block_bytes))) {}

SpillFile::SpillFile(SpillFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::exchange(other.buffer_, nullptr)) {}

SpillFile& SpillFile::operator=(SpillFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    std::free(buffer_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::exchange(other.buffer_, nullptr);
  }
  return *this;
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
  std::free(buffer_);
  fd_ = -1;
  buffer_ = nullptr;
}

int SpillFile::close() {
  const int fd = std::exchange(fd_, -1);
  return fd >= 0 ? ::close(fd) : 0;
}

// ---- SpillWriter ----

Expected<SpillWriter> SpillWriter::create(const std::filesystem::path& file) {
  // Truncated: a file left by an earlier process is never read, only written over.
  auto f = open_spill(file, O_WRONLY | O_CREAT | O_TRUNC, "cannot create it: ");
  if (!f) return tl::unexpected(f.error());
  SpillWriter writer(std::move(*f), file);
  if (auto r = writer.write(kMagic, sizeof kMagic); !r) return tl::unexpected(r.error());
  return writer;
}

Expected<void> SpillWriter::write_block(std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(file_.fd(), file_.buffer() + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return tl::unexpected(spill_error(path_, "cannot write: " + errno_text()));
    if (w == 0) return tl::unexpected(spill_error(path_, "cannot write: " + errno_text(ENOSPC)));
    done += static_cast<std::size_t>(w);
  }
  return {};
}

Expected<void> SpillWriter::write(const void* data, std::size_t n) {
  if (!file_.usable()) return tl::unexpected(spill_error(path_, "written after it was closed"));
  const char* p = static_cast<const char*>(data);
  std::size_t left = n;
  while (left > 0) {
    const std::size_t part = std::min(left, spill_block_bytes - buffered_);
    std::memcpy(file_.buffer() + buffered_, p, part);
    buffered_ += part;
    p += part;
    left -= part;
    if (buffered_ == spill_block_bytes) {
      if (auto r = write_block(spill_block_bytes); !r) return r;
      buffered_ = 0;
    }
  }
  bytes_ += n;
  return {};
}

Expected<void> SpillWriter::add(std::uint64_t line, std::uint64_t end_offset, std::uint64_t item, std::string_view json) {
  if (json.size() > kMaxRecordBytes) return tl::unexpected(spill_error(path_, "a record of " + std::to_string(json.size()) + " bytes"));
  Header h;
  h.length = static_cast<std::uint32_t>(json.size());
  h.a = line;
  h.b = end_offset;
  h.c = item;
  h.crc = crc_of(h, json);
  if (auto r = write(&h, sizeof h); !r) return r;
  if (auto r = write(json.data(), json.size()); !r) return r;
  ++records_;
  return {};
}

Expected<void> SpillWriter::close(std::uint64_t last_line, std::uint64_t last_end_offset) {
  Header end;
  end.length = kEndMark;
  end.a = records_;
  end.b = last_line;
  end.c = last_end_offset;
  end.crc = crc_of(end, {});
  if (auto r = write(&end, sizeof end); !r) return r;
  if (auto r = write_block(buffered_); !r) return r;
  buffered_ = 0;
  if (file_.close() != 0) return tl::unexpected(spill_error(path_, "cannot write: " + errno_text()));
  return {};
}

// ---- SpillReader ----

Expected<SpillReader> SpillReader::open(const std::filesystem::path& file) {
  auto f = open_spill(file, O_RDONLY, "cannot open it: ");
  if (!f) return tl::unexpected(f.error());
  (void)::posix_fadvise(f->fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  SpillReader reader(std::move(*f), file);
  char magic[sizeof kMagic];
  if (!reader.take(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0)
    return tl::unexpected(reader.damaged("it does not begin as a spill does"));
  return reader;
}

bool SpillReader::take(void* out, std::size_t n) {
  char* p = static_cast<char*>(out);
  while (n > 0) {
    if (at_ == filled_) {
      if (ended_ || read_error_ != 0) return false;
      const ssize_t r = ::read(file_.fd(), file_.buffer(), spill_block_bytes);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        read_error_ = errno;
        return false;
      }
      if (r == 0) ended_ = true;
      at_ = 0;
      filled_ = static_cast<std::size_t>(r);
      continue;
    }
    const std::size_t part = std::min(n, filled_ - at_);
    std::memcpy(p, file_.buffer() + at_, part);
    at_ += part;
    p += part;
    n -= part;
  }
  return true;
}

bool SpillReader::at_file_end() {
  char extra;
  return !take(&extra, 1) && read_error_ == 0;
}

Error SpillReader::damaged(const std::string& what) const {
  return spill_error(path_, read_error_ != 0 ? "cannot read: " + errno_text(read_error_)
                                             : "cut short or damaged after " + std::to_string(records_) + " records (" + what + ")");
}

Expected<std::optional<SpilledRecord>> SpillReader::next() {
  if (!file_.usable()) return tl::unexpected(damaged("read past its end mark"));
  Header h;
  if (!take(&h, sizeof h)) return tl::unexpected(damaged("no end mark"));
  if (h.length == kEndMark) {
    if (h.crc != crc_of(h, {})) return tl::unexpected(damaged("its end mark does not check"));
    if (h.a != records_)
      return tl::unexpected(damaged("its end mark counts " + std::to_string(h.a) + " records"));
    if (!at_file_end()) return tl::unexpected(damaged("bytes past its end mark"));
    end_ = SpillEnd{h.a, h.b, h.c};
    file_ = SpillFile();
    return std::optional<SpilledRecord>{};
  }
  if (h.length > kMaxRecordBytes) return tl::unexpected(damaged("a length of " + std::to_string(h.length)));
  SpilledRecord r;
  r.line = h.a;
  r.end_offset = h.b;
  r.item = h.c;
  r.json.resize(h.length);
  if (h.length > 0 && !take(r.json.data(), h.length)) return tl::unexpected(damaged("a record cut short"));
  if (h.crc != crc_of(h, r.json)) return tl::unexpected(damaged("a record that does not check"));
  ++records_;
  return std::optional<SpilledRecord>(std::move(r));
}

// ---- RecordSpill ----

RecordSpill::RecordSpill(std::filesystem::path folder, std::uint64_t min_free_bytes)
    : folder_(std::move(folder)), min_free_bytes_(min_free_bytes) {}

void RecordSpill::give_up(const std::string& why) {
  if (given_up_) return;
  given_up_ = true;
  why_ = why;
  std::error_code ec;
  for (auto& writer : open_) {
    if (!writer) continue;
    const auto path = writer->path();
    writer.reset();
    std::filesystem::remove(path, ec);
  }
  for (const auto& passes : closed_)
    for (const auto& path : passes)
      if (path) std::filesystem::remove(*path, ec);
  closed_.clear();
}

void RecordSpill::add(std::size_t file, std::size_t pass, std::uint64_t line, std::uint64_t end_offset, std::uint64_t item,
                      std::string_view json) {
  if (!active()) return;
  // The room is looked at before the first byte and then every 64 MiB, over all files: many small inputs are
  // watched as one large one.
  if (bytes_ == 0 || bytes_ - room_checked_at_ >= kCheckRoomEvery) {
    room_checked_at_ = bytes_;
    std::error_code ec;
    const auto space = std::filesystem::space(folder_, ec);
    if (ec) return give_up("cannot tell the room left in " + folder_.string() + ": " + ec.message());
    if (space.available < min_free_bytes_)
      return give_up("less than " + std::to_string(min_free_bytes_ >> 20) + " MiB would be left free in " + folder_.string());
  }
  auto& writer = open_[pass];
  if (!writer) {
    auto created = SpillWriter::create(folder_ / ("file" + std::to_string(file) + "-pass" + std::to_string(pass)));
    if (!created) return give_up(created.error().message);
    writer.emplace(std::move(*created));
  }
  const std::uint64_t before = writer->bytes();
  if (auto r = writer->add(line, end_offset, item, json); !r) return give_up(r.error().message);
  bytes_ += writer->bytes() - before;
}

void RecordSpill::finish_file(std::size_t file, std::uint64_t last_line, std::uint64_t last_end_offset) {
  if (!active()) return;
  if (closed_.size() <= file) closed_.resize(file + 1);
  for (std::size_t pass = 0; pass < pass_count; ++pass) {
    auto& writer = open_[pass];
    if (!writer) continue;
    if (auto r = writer->close(last_line, last_end_offset); !r) return give_up(r.error().message);
    closed_[file][pass] = writer->path();
    writer.reset();
  }
}

std::vector<std::array<std::optional<std::filesystem::path>, pass_count>> RecordSpill::files() const {
  if (!active()) return {};
  return closed_;
}

}  // namespace omt::import
