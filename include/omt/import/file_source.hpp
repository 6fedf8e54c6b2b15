// Opening an input file as a ByteSource: plain, or gzip when its name ends in .gz or it starts with gzip's
// magic bytes (1f 8b). Gzip is inflated with zlib as it is read, through fixed buffers; several gzip members
// one after the other (as `cat a.gz b.gz` makes) are read as one text; a file that ends inside a member is an
// error naming the file ("truncated gzip"), never a silent short read.
#pragma once

#include <filesystem>
#include <memory>

#include "omt/error.hpp"
#include "omt/import/byte_source.hpp"

namespace omt::import {

// Bytes read from the disk at a time, and inflated at a time: what a source holds in memory.
inline constexpr std::size_t file_buffer_bytes = 256 * 1024;

Expected<std::unique_ptr<ByteSource>> open_plain_source(const std::filesystem::path& file);
Expected<std::unique_ptr<ByteSource>> open_gzip_source(const std::filesystem::path& file);
// Plain or gzip, by the name (.gz) or the magic bytes.
Expected<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& file);
// True when the file's name ends in .gz or it starts with gzip's magic bytes.
Expected<bool> is_gzip_file(const std::filesystem::path& file);

}  // namespace omt::import
