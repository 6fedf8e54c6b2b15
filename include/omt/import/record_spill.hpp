// The plan pass's records kept on disk, so that the passes that queue them do not transform every event a second
// time: one file per input and pass, the records in reading order, each with its place in the input. A spill is
// only ever an optimisation: one that cannot be written (no room, an I/O error) is dropped, and the passes then
// transform the input again, which yields the same records (the transform is pure).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "omt/error.hpp"

namespace omt::import {

// A spill stops growing (and is dropped) when less than this is left free beside it: it must never fill the disk
// the queue is on.
inline constexpr std::uint64_t spill_min_free_bytes = 1ull << 30;

struct SpilledRecord {
  std::uint64_t line = 0;
  std::uint64_t end_offset = 0;
  std::string json;
};

class SpillWriter {
 public:
  static Expected<SpillWriter> create(const std::filesystem::path& file);
  SpillWriter(SpillWriter&& other) noexcept;
  SpillWriter& operator=(SpillWriter&& other) noexcept;
  ~SpillWriter();
  Expected<void> add(std::uint64_t line, std::uint64_t end_offset, std::string_view json);
  // Flushed and closed: readable from now on.
  Expected<void> close();
  const std::filesystem::path& path() const { return path_; }

 private:
  SpillWriter(std::FILE* file, std::filesystem::path path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
  std::uint64_t written_ = 0, checked_at_ = 0;
};

class SpillReader {
 public:
  static Expected<SpillReader> open(const std::filesystem::path& file);
  SpillReader(SpillReader&& other) noexcept;
  SpillReader& operator=(SpillReader&& other) noexcept;
  ~SpillReader();
  // The next record; nullopt at the end. A file cut short or damaged is an error naming it.
  Expected<std::optional<SpilledRecord>> next();

 private:
  SpillReader(std::FILE* file, std::filesystem::path path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
};

}  // namespace omt::import
