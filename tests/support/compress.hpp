// zlib compression for tests: request bodies encoded as clients send them (the RudderStack Node SDK calls Node's
// zlib.gzipSync: a gzip header with mtime 0 and OS 3, default level), zlib and raw deflate streams, and gzip
// "bombs" that inflate to far more than they weigh, built without compressing every byte; and gunzip. Header-only.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace omt::test {

enum class Wrapper { gzip, zlib, raw };

inline std::string compress(std::string_view data, Wrapper wrapper = Wrapper::gzip, int level = Z_DEFAULT_COMPRESSION,
                            int flush = Z_FINISH) {
  z_stream z{};
  const int window_bits = wrapper == Wrapper::gzip ? 16 + MAX_WBITS : wrapper == Wrapper::zlib ? MAX_WBITS : -MAX_WBITS;
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, flush);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (status != (flush == Z_FINISH ? Z_STREAM_END : Z_OK)) throw std::runtime_error("deflate failed");
  return out;
}

inline std::string gzip(std::string_view data) { return compress(data, Wrapper::gzip); }

// Inflates a whole gzip stream (one member), for reading what a recorded client sent.
inline std::string gunzip(std::string_view data) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int status = Z_OK;
  while (status == Z_OK) {
    char chunk[16 * 1024];
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    status = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
  }
  inflateEnd(&z);
  if (status != Z_STREAM_END) throw std::runtime_error("gunzip: not a whole gzip stream");
  return out;
}

// A valid gzip stream of `size` bytes of `byte` (size a multiple of 1 MiB): one raw deflate block of 1 MiB ended
// with a full flush (byte-aligned, no references back into earlier blocks), repeated, then a final empty block
// and the gzip trailer (CRC-32 and length). About 1 KiB per MiB: a 1 GiB bomb weighs about 1 MiB.
inline std::string gzip_bomb(std::size_t size, char byte = ' ') {
  constexpr std::size_t block = 1u << 20;
  if (size % block != 0) throw std::invalid_argument("gzip_bomb: size must be a multiple of 1 MiB");
  const std::string plain(block, byte);
  const std::string compressed_block = compress(plain, Wrapper::raw, 9, Z_FULL_FLUSH);
  const std::string final_block = compress({}, Wrapper::raw, 9, Z_FINISH);
  const uLong block_crc = crc32(0L, reinterpret_cast<const Bytef*>(plain.data()), static_cast<uInt>(plain.size()));

  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  out.reserve(10 + compressed_block.size() * (size / block) + final_block.size() + 8);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t done = 0; done < size; done += block) {
    out += compressed_block;
    crc = crc32_combine(crc, block_crc, static_cast<z_off_t>(block));
  }
  out += final_block;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xFF));
  return out;
}

}  // namespace omt::test
