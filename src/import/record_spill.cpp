// SpillWriter / SpillReader / RecordSpill. A file: the magic, then per record a header (length, CRC-32 of what
// follows it, line, end offset) and the JSON, then the end mark (length kEndMark, CRC-32, count, last line, last
// end offset). Fixed-width native integers: the file lives only as long as one import process.
#include "omt/import/record_spill.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace omt::import {

namespace {

constexpr char kMagic[8] = {'o', 'm', 't', 's', 'p', 'l', '1', '\n'};
constexpr std::size_t kBufferBytes = 256u << 10;       // a writer per pass of the input being read: 1 MiB in all
constexpr std::uint32_t kMaxRecordBytes = 64u << 20;   // far above any record (60 KB): a larger length is damage
constexpr std::uint32_t kEndMark = 0xFFFFFFFFu;        // a length no record has
constexpr std::uint64_t kCheckRoomEvery = 64ull << 20;

struct Header {
  std::uint32_t length = 0;
  std::uint32_t crc = 0;  // of the three numbers below and the JSON (the end mark: of its three numbers)
  std::uint64_t a = 0, b = 0, c = 0;  // a record: line, end offset, unused; the end mark: count, last line, last end
};
static_assert(sizeof(Header) == 32);

std::uint32_t crc_of(const Header& h, std::string_view json) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(&h.a), static_cast<uInt>(3 * sizeof(std::uint64_t)));
  if (!json.empty()) crc = crc32(crc, reinterpret_cast<const Bytef*>(json.data()), static_cast<uInt>(json.size()));
  return static_cast<std::uint32_t>(crc);
}

Error spill_error(const std::filesystem::path& path, const std::string& what) {
  return Error{errc::io, "import: the plan's spill " + path.string() + ": " + what, path.string()};
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// ---- SpillWriter ----

Expected<SpillWriter> SpillWriter::create(const std::filesystem::path& file) {
  // "w": a file left by an earlier process is never read, only written over.
  SpillFile f(std::fopen(file.c_str(), "wb"));
  if (f == nullptr) return tl::unexpected(spill_error(file, "cannot create it: " + errno_text()));
  std::setvbuf(f.get(), nullptr, _IOFBF, kBufferBytes);
  SpillWriter writer(std::move(f), file);
  if (auto r = writer.write(kMagic, sizeof kMagic); !r) return tl::unexpected(r.error());
  return writer;
}

Expected<void> SpillWriter::write(const void* data, std::size_t n) {
  if (file_ == nullptr) return tl::unexpected(spill_error(path_, "written after it was closed"));
  if (n > 0 && std::fwrite(data, 1, n, file_.get()) != n) return tl::unexpected(spill_error(path_, "cannot write: " + errno_text()));
  bytes_ += n;
  return {};
}

Expected<void> SpillWriter::add(std::uint64_t line, std::uint64_t end_offset, std::string_view json) {
  if (json.size() > kMaxRecordBytes) return tl::unexpected(spill_error(path_, "a record of " + std::to_string(json.size()) + " bytes"));
  Header h;
  h.length = static_cast<std::uint32_t>(json.size());
  h.a = line;
  h.b = end_offset;
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
  const bool flushed = std::fflush(file_.get()) == 0;
  const std::string why = flushed ? std::string() : errno_text();
  const bool closed = std::fclose(file_.release()) == 0;
  if (!flushed || !closed) return tl::unexpected(spill_error(path_, "cannot write: " + (flushed ? errno_text() : why)));
  return {};
}

// ---- SpillReader ----

Expected<SpillReader> SpillReader::open(const std::filesystem::path& file) {
  SpillFile f(std::fopen(file.c_str(), "rb"));
  if (f == nullptr) return tl::unexpected(spill_error(file, "cannot open it: " + errno_text()));
  std::setvbuf(f.get(), nullptr, _IOFBF, kBufferBytes);
  char magic[sizeof kMagic];
  const bool begins = std::fread(magic, 1, sizeof magic, f.get()) == sizeof magic;
  SpillReader reader(std::move(f), file);
  if (!begins || std::memcmp(magic, kMagic, sizeof magic) != 0)
    return tl::unexpected(reader.damaged("it does not begin as a spill does"));
  return reader;
}

Error SpillReader::damaged(const std::string& what) const {
  const bool failed = file_ != nullptr && std::ferror(file_.get()) != 0;
  return spill_error(path_, failed ? "cannot read: " + errno_text()
                                   : "cut short or damaged after " + std::to_string(records_) + " records (" + what + ")");
}

Expected<std::optional<SpilledRecord>> SpillReader::next() {
  if (file_ == nullptr) return tl::unexpected(damaged("read past its end mark"));
  Header h;
  if (std::fread(&h, sizeof h, 1, file_.get()) != 1) return tl::unexpected(damaged("no end mark"));
  if (h.length == kEndMark) {
    if (h.crc != crc_of(h, {})) return tl::unexpected(damaged("its end mark does not check"));
    if (h.a != records_)
      return tl::unexpected(damaged("its end mark counts " + std::to_string(h.a) + " records"));
    char extra;
    if (std::fread(&extra, 1, 1, file_.get()) != 0) return tl::unexpected(damaged("bytes past its end mark"));
    end_ = SpillEnd{h.a, h.b, h.c};
    file_.reset();
    return std::optional<SpilledRecord>{};
  }
  if (h.length > kMaxRecordBytes) return tl::unexpected(damaged("a length of " + std::to_string(h.length)));
  SpilledRecord r;
  r.line = h.a;
  r.end_offset = h.b;
  r.json.resize(h.length);
  if (h.length > 0 && std::fread(r.json.data(), 1, h.length, file_.get()) != h.length) return tl::unexpected(damaged("a record cut short"));
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

void RecordSpill::add(std::size_t file, std::size_t pass, std::uint64_t line, std::uint64_t end_offset, std::string_view json) {
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
  if (auto r = writer->add(line, end_offset, json); !r) return give_up(r.error().message);
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
