// Content-Encoding of request bodies: gzip and deflate through zlib, with the output bounded as it is produced.
#include "omt/protocol/content_encoding.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "omt/core/text.hpp"

namespace omt::protocol {

namespace {

// A header value echoed in an error: cut, so that a huge header does not make a huge answer.
std::string quoted(std::string_view value) {
  constexpr std::size_t max_echoed = 64;
  std::string out = "\"" + std::string(value.substr(0, max_echoed));
  if (value.size() > max_echoed) out += "...";
  return out + "\"";
}

std::string unsupported_message(std::string_view header_value) {
  return "Content-Encoding " + quoted(header_value) + " is not supported: send the body as it is, or encoded with one of " +
         std::string(accepted_content_codings);
}

// A zlib stream header (RFC 1950): deflate method, window <= 32 KiB, and the check bits.
bool has_zlib_header(std::string_view body) {
  if (body.size() < 2) return false;
  const auto cmf = static_cast<unsigned char>(body[0]);
  const auto flg = static_cast<unsigned char>(body[1]);
  return (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

struct InflateStream {
  z_stream z{};
  bool open = false;
  ~InflateStream() {
    if (open) inflateEnd(&z);
  }
};

Error invalid_data(ContentCoding coding, std::string_view detail) {
  return Error{errc::invalid_request,
               "Content-Encoding: " + std::string(to_string(coding)) + " but the body is not valid " +
                   std::string(to_string(coding)) + " data: " + std::string(detail),
               ""};
}

Error too_large(ContentCoding coding, std::size_t max_bytes) {
  return Error{errc::too_large,
               "Request body exceeds " + std::to_string(max_bytes) + " bytes once decompressed (Content-Encoding: " +
                   std::string(to_string(coding)) + ")",
               ""};
}

// Inflates with zlib's window_bits (31: gzip, 15: zlib, -15: raw deflate). The output never grows past
// max_bytes + 1: the byte after the limit is enough to know the body is too large.
Expected<std::string> inflate_bounded(ContentCoding coding, std::string_view body, int window_bits,
                                      std::size_t max_bytes, std::size_t padding) {
  if (body.size() > std::numeric_limits<uInt>::max())  // zlib counts input in 32 bits
    return fail(errc::too_large, "A compressed body over 4 GiB is not accepted");
  InflateStream stream;
  if (inflateInit2(&stream.z, window_bits) != Z_OK) return fail(errc::transformation, "zlib could not start inflating");
  stream.open = true;
  stream.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.z.avail_in = static_cast<uInt>(body.size());

  const std::size_t ceiling = max_bytes + 1;
  std::string out;
  // JSON usually compresses 5 to 10 times: start there, then double.
  out.resize(std::min(ceiling, std::max<std::size_t>(body.size() * 8, 16 * 1024)));
  std::size_t produced = 0;
  while (true) {
    if (produced == out.size()) {
      if (out.size() >= ceiling) return tl::unexpected(too_large(coding, max_bytes));
      out.resize(std::min(ceiling, out.size() * 2));
    }
    // One call writes at most 1 GiB; the loop continues for the rest.
    const std::size_t room = std::min<std::size_t>(out.size() - produced, 1u << 30);
    stream.z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.z.avail_out = static_cast<uInt>(room);
    const int status = inflate(&stream.z, Z_NO_FLUSH);
    produced += room - stream.z.avail_out;
    if (produced > max_bytes) return tl::unexpected(too_large(coding, max_bytes));

    if (status == Z_STREAM_END) {
      if (stream.z.avail_in == 0) break;
      // gzip allows several members one after the other (RFC 1952 section 2.2): they make one body.
      if (coding != ContentCoding::gzip)
        return tl::unexpected(invalid_data(coding, "bytes after the end of the compressed stream"));
      if (inflateReset(&stream.z) != Z_OK) return fail(errc::transformation, "zlib could not restart inflating");
      continue;
    }
    if (status == Z_OK) continue;
    if (status == Z_BUF_ERROR && stream.z.avail_in == 0)
      return tl::unexpected(invalid_data(coding, "it ends before the end of the compressed stream"));
    if (status == Z_NEED_DICT) return tl::unexpected(invalid_data(coding, "it needs a preset dictionary"));
    if (status == Z_MEM_ERROR) return fail(errc::transformation, "zlib ran out of memory while inflating");
    return tl::unexpected(invalid_data(coding, stream.z.msg != nullptr ? stream.z.msg : "corrupt data"));
  }
  out.resize(produced);
  out.reserve(produced + padding);
  return out;
}

}  // namespace

std::string_view to_string(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::identity: return "identity";
    case ContentCoding::gzip: return "gzip";
    case ContentCoding::deflate: return "deflate";
  }
  return "identity";
}

Expected<ContentCoding> parse_content_encoding(std::string_view header_value) {
  std::vector<ContentCoding> applied;
  std::string_view rest = header_value;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = text::trim(rest.substr(0, comma));
    if (!item.empty() && !text::iequals(item, "identity")) {
      if (text::iequals(item, "gzip") || text::iequals(item, "x-gzip")) applied.push_back(ContentCoding::gzip);
      else if (text::iequals(item, "deflate")) applied.push_back(ContentCoding::deflate);
      else return fail(errc::unsupported_media, unsupported_message(item), "Content-Encoding");
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (applied.empty()) return ContentCoding::identity;
  if (applied.size() > 1)
    return fail(errc::unsupported_media,
                "Content-Encoding " + quoted(text::trim(header_value)) +
                    " applies more than one coding: encode the body once, with one of " +
                    std::string(accepted_content_codings),
                "Content-Encoding");
  return applied.front();
}

Expected<std::string> decode_body(ContentCoding coding, std::string_view body, std::size_t max_bytes,
                                  std::size_t padding) {
  switch (coding) {
    case ContentCoding::identity: {
      if (body.size() > max_bytes)
        return fail(errc::too_large, "Request body exceeds " + std::to_string(max_bytes) + " bytes");
      std::string out;
      out.reserve(body.size() + padding);
      out.assign(body);
      return out;
    }
    case ContentCoding::gzip: return inflate_bounded(coding, body, 16 + MAX_WBITS, max_bytes, padding);
    case ContentCoding::deflate:
      return inflate_bounded(coding, body, has_zlib_header(body) ? MAX_WBITS : -MAX_WBITS, max_bytes, padding);
  }
  return fail(errc::unsupported_media, "unknown content coding");
}

}  // namespace omt::protocol
