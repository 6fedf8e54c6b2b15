// Request bodies sent with a Content-Encoding (the RudderStack Node SDK gzips every batch): which codings are
// understood, and decoding that never produces more than a given number of bytes, so a small compressed body
// (a "zip bomb") is refused with 413 instead of expanding into memory. Pure (zlib); never throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "omt/error.hpp"

namespace omt::protocol {

enum class ContentCoding {
  identity,  // no header, "" or "identity"
  gzip,      // "gzip" or "x-gzip" (RFC 1952; concatenated members are read as one body)
  deflate,   // "deflate": the zlib format (RFC 1950), or a raw deflate stream as some clients send
};

// The codings a 415 lists in its Accept-Encoding header (RFC 7694).
inline constexpr std::string_view accepted_content_codings = "gzip, deflate";

// Parses a Content-Encoding header value (case-insensitive, surrounding spaces ignored; "identity" entries in
// a list are skipped). errc::unsupported_media (415) for any other coding, or for more than one coding applied
// in turn, with a message naming the header and the coding received.
Expected<ContentCoding> parse_content_encoding(std::string_view header_value);

// Decodes `body`. The result is at most `max_bytes` long, else errc::too_large (413): decompression stops as soon
// as the output would pass the limit, so memory use is bounded by the limit, whatever the compression ratio.
// Data that is not in the coding, or ends early, is errc::invalid_request (400) naming the coding.
// `padding`: spare capacity reserved past the end of the result (simdjson parses in place with 64 bytes spare).
// identity returns the body unchanged (still held to max_bytes).
Expected<std::string> decode_body(ContentCoding coding, std::string_view body, std::size_t max_bytes,
                                  std::size_t padding = 0);

std::string_view to_string(ContentCoding coding);  // "identity", "gzip", "deflate"

}  // namespace omt::protocol
