// The bytes an import reader parses, whatever they come from: a plain file here, a gzip stream or a test's
// string elsewhere. A reader pulls with read() and never learns where the bytes live, so the format readers
// (CSV, JSON Lines) and the decompression layer fit together without knowing each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "omt/error.hpp"

namespace omt::import {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `size` bytes into `out`: how many were read, 0 only at the end of the input. An error (unreadable
  // file, corrupt gzip) stops the input: errc::io, its message naming the file.
  virtual Expected<std::size_t> read(char* out, std::size_t size) = 0;
  // Bytes of the underlying file consumed so far (compressed bytes for gzip): for progress, not for resuming.
  virtual std::uint64_t bytes_consumed() const = 0;
};

// A plain file, read in the caller's chunks (no buffering of its own). errc::io naming the path when it cannot
// be opened.
Expected<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path);

// Bytes held in memory (tests, benchmarks), handed out at most `chunk` bytes a read, so that a test can make
// every row straddle a read boundary.
std::unique_ptr<ByteSource> string_source(std::string text, std::size_t chunk = 64 * 1024);

}  // namespace omt::import
