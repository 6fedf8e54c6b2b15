// The plan pass's records kept on disk, so that the passes that queue them do not transform every event a second
// time: one file per input and pass, the records in reading order, each with its place in the input, length-
// prefixed and checksummed, closed by an end mark that counts them and holds the place of the input's last item.
// A spill is only ever an optimisation: one that cannot be written (no room, an I/O error) is given up whole, and
// the passes then transform the input again, which yields the same records (the transform is pure). One that was
// written but reads back damaged or cut short is an error naming the file, never a record made up.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"
#include "omt/import/plan.hpp"

namespace omt::import {

// A spill stops growing (and is given up) when less than this would be left free beside it: the queue the passes
// fill is usually on the same disk, and must never find it full because of the spill.
inline constexpr std::uint64_t spill_min_free_bytes = 1ull << 30;

struct SpilledRecord {
  std::uint64_t line = 0;
  std::uint64_t end_offset = 0;
  std::uint64_t item = 0;  // the item it came from, counted from 1 in its file: a pass reports input items read
  std::string json;
};

// The end mark: how many records the file holds, and where the input's last item ends (a pass through the file
// checkpoints there, as one that read the input would).
struct SpillEnd {
  std::uint64_t records = 0;
  std::uint64_t last_line = 0;
  std::uint64_t last_end_offset = 0;
};

// CRC-32C (Castagnoli) of bytes, the spill's checksum: with the CPU's crc32 instruction (SSE4.2) where it has
// one, else by table (`portable`: always); the same value either way.
std::uint32_t spill_crc32c(std::string_view bytes, bool portable = false);

// A spill file's descriptor and its block buffer, both let go with it.
class SpillFile {
 public:
  SpillFile() = default;
  explicit SpillFile(int fd);
  SpillFile(SpillFile&& other) noexcept;
  SpillFile& operator=(SpillFile&& other) noexcept;
  ~SpillFile();
  int fd() const { return fd_; }
  char* buffer() const { return buffer_; }
  bool usable() const { return fd_ >= 0 && buffer_ != nullptr; }
  int close();  // the descriptor's close(): 0, or -1 with errno

 private:
  int fd_ = -1;
  char* buffer_ = nullptr;  // spill_block_bytes
};

// What a spill file is written and read in: blocks of this size, so that a spill costs few system calls.
inline constexpr std::size_t spill_block_bytes = 1u << 20;

class SpillWriter {
 public:
  static Expected<SpillWriter> create(const std::filesystem::path& file);
  Expected<void> add(std::uint64_t line, std::uint64_t end_offset, std::uint64_t item, std::string_view json);
  // Writes the end mark and closes: readable from now on.
  Expected<void> close(std::uint64_t last_line, std::uint64_t last_end_offset);
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  SpillWriter(SpillFile file, std::filesystem::path path) : file_(std::move(file)), path_(std::move(path)) {}
  Expected<void> write(const void* data, std::size_t n);
  Expected<void> write_block(std::size_t n);  // the buffer's first n bytes, at the file's end
  SpillFile file_;
  std::filesystem::path path_;
  std::uint64_t bytes_ = 0, records_ = 0;
  std::size_t buffered_ = 0;  // bytes in the buffer, not yet written
};

class SpillReader {
 public:
  static Expected<SpillReader> open(const std::filesystem::path& file);
  // The next record; nullopt at the end mark (then end() says what it holds). A file cut short, damaged, or
  // with bytes past its end mark is an error naming it.
  Expected<std::optional<SpilledRecord>> next();
  const SpillEnd& end() const { return end_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SpillReader(SpillFile file, std::filesystem::path path) : file_(std::move(file)), path_(std::move(path)) {}
  Error damaged(const std::string& what) const;
  // n bytes into out: false when the file ends first (or a read fails: read_error_ says why).
  bool take(void* out, std::size_t n);
  bool at_file_end();  // nothing is left to read
  SpillFile file_;
  std::filesystem::path path_;
  std::uint64_t records_ = 0;
  SpillEnd end_;
  std::size_t at_ = 0, filled_ = 0;  // the buffer's unread bytes: [at_, filled_)
  bool ended_ = false;               // a read returned nothing more
  int read_error_ = 0;               // errno of a failed read
};

// The plan pass's spill in a folder (an existing one, that only this process writes): a writer per input and
// pass, opened at the pass's first record, and the room left beside it watched as it grows. Whatever fails (a
// write, the room) gives the whole spill up: its files are removed and why is kept for a notice; from then on
// nothing is written, and the passes transform every input again.
class RecordSpill {
 public:
  // folder empty: no spill. min_free_bytes: the room to leave (a test asks for more than any disk has).
  explicit RecordSpill(std::filesystem::path folder, std::uint64_t min_free_bytes = spill_min_free_bytes);
  bool active() const { return !folder_.empty() && !given_up_; }
  void add(std::size_t file, std::size_t pass, std::uint64_t line, std::uint64_t end_offset, std::uint64_t item,
           std::string_view json);
  // The input `file` is read through; its last item ends at (last_line, last_end_offset).
  void finish_file(std::size_t file, std::uint64_t last_line, std::uint64_t last_end_offset);
  // By file, then pass: the spills written and closed (none once given up).
  std::vector<std::array<std::optional<std::filesystem::path>, pass_count>> files() const;
  // Why the spill was given up (one sentence, naming the folder); empty while it was not.
  const std::string& given_up_because() const { return why_; }

 private:
  void give_up(const std::string& why);
  std::filesystem::path folder_;
  std::uint64_t min_free_bytes_;
  bool given_up_ = false;
  std::string why_;
  std::array<std::optional<SpillWriter>, pass_count> open_;  // the input being read: its writers, by pass
  std::vector<std::array<std::optional<std::filesystem::path>, pass_count>> closed_;
  std::uint64_t bytes_ = 0, room_checked_at_ = 0;
};

}  // namespace omt::import
