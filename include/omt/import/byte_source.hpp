// The bytes of one input file, read in bounded pieces: a plain file, or a gzip file inflated as it is read
// (omt/import/file_source.hpp opens either). Every import reader (JSON Lines, CSV) reads through this, so that
// compression is handled once, the format readers never learn where the bytes live, and memory never grows
// with the size of a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "omt/error.hpp"

namespace omt::import {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to max bytes into out; 0 only at the end; an error (unreadable, truncated or corrupt gzip) names the file.
  virtual Expected<std::size_t> read(char* out, std::size_t max) = 0;
  // Bytes of the file consumed so far (compressed bytes for gzip): for progress, not for resuming.
  virtual std::uint64_t bytes_read() const = 0;
};

// Bytes held in memory (tests, benchmarks), handed out at most `chunk` bytes a read, so that a test can make
// every row straddle a read boundary.
std::unique_ptr<ByteSource> string_source(std::string text, std::size_t chunk = 64 * 1024);

}  // namespace omt::import
