// The plan pass's records kept on disk, so that the passes that queue them do not transform every event a second
// time: one file per input and pass, the records in reading order, each with its place in the input, length-
// prefixed and checksummed, closed by an end mark that counts them and holds the place of the input's last item.
// A spill is only ever an optimisation: one that cannot be written (no room, an I/O error) is given up whole, and
// the passes then transform the input again, which yields the same records (the transform is pure). One that was
// written but reads back damaged or cut short is an error naming the file, never a record made up.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
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
  std::string json;
};

// The end mark: how many records the file holds, and where the input's last item ends (a pass through the file
// checkpoints there, as one that read the input would).
struct SpillEnd {
  std::uint64_t records = 0;
  std::uint64_t last_line = 0;
  std::uint64_t last_end_offset = 0;
};

// A FILE* closed when it goes.
struct SpillFileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using SpillFile = std::unique_ptr<std::FILE, SpillFileCloser>;

class SpillWriter {
 public:
  static Expected<SpillWriter> create(const std::filesystem::path& file);
  Expected<void> add(std::uint64_t line, std::uint64_t end_offset, std::string_view json);
  // Writes the end mark, flushes and closes: readable from now on.
  Expected<void> close(std::uint64_t last_line, std::uint64_t last_end_offset);
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  SpillWriter(SpillFile file, std::filesystem::path path) : file_(std::move(file)), path_(std::move(path)) {}
  Expected<void> write(const void* data, std::size_t n);
  SpillFile file_;
  std::filesystem::path path_;
  std::uint64_t bytes_ = 0, records_ = 0;
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
  SpillFile file_;
  std::filesystem::path path_;
  std::uint64_t records_ = 0;
  SpillEnd end_;
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
  void add(std::size_t file, std::size_t pass, std::uint64_t line, std::uint64_t end_offset, std::string_view json);
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
