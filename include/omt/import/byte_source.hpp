// The bytes of one input file, read in bounded pieces: a plain file, or a gzip file inflated as it is read
// (omt/import/file_source.hpp opens either). Every import reader (JSON Lines, CSV) reads through this, so that
// compression is handled once and memory never grows with the size of a file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "omt/error.hpp"

namespace omt::import {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to max bytes into out; 0 at the end; an error (unreadable, truncated or corrupt gzip) names the file.
  virtual Expected<std::size_t> read(char* out, std::size_t max) = 0;
  // Bytes of the file consumed so far (compressed bytes for gzip): for progress.
  virtual std::uint64_t bytes_read() const = 0;
};

}  // namespace omt::import
