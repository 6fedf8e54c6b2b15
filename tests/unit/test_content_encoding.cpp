// Content-Encoding of request bodies: which header values are understood (415 otherwise), decoding gzip and
// deflate as clients send them, and the bound on the decoded size (a gzip bomb is a 413, never a big allocation).
#include <gtest/gtest.h>

#include <string>

#include "compress.hpp"
#include "omt/protocol/content_encoding.hpp"

namespace {
using namespace omt::protocol;
using omt::errc;
using omt::test::compress;
using omt::test::gzip;
using omt::test::Wrapper;

const std::string kBatch = R"({"batch":[{"type":"identify","userId":"u-1","traits":{"email":"ann@example.com"}}]})";

TEST(ContentEncoding, HeaderValuesUnderstood) {
  EXPECT_EQ(parse_content_encoding(""), ContentCoding::identity);
  EXPECT_EQ(parse_content_encoding("identity"), ContentCoding::identity);
  EXPECT_EQ(parse_content_encoding("gzip"), ContentCoding::gzip);
  EXPECT_EQ(parse_content_encoding(" GZip "), ContentCoding::gzip);
  EXPECT_EQ(parse_content_encoding("x-gzip"), ContentCoding::gzip);
  EXPECT_EQ(parse_content_encoding("deflate"), ContentCoding::deflate);
  EXPECT_EQ(parse_content_encoding("identity, gzip"), ContentCoding::gzip);  // identity is no coding at all
}

TEST(ContentEncoding, UnknownCodingsAre415NamingTheCoding) {
  for (const char* value : {"br", "compress", "zstd", "gzip, br"}) {
    const auto parsed = parse_content_encoding(value);
    ASSERT_FALSE(parsed) << value;
    EXPECT_EQ(parsed.error().code, errc::unsupported_media);
    EXPECT_EQ(omt::http_status(parsed.error().code), 415);
    EXPECT_EQ(parsed.error().path, "Content-Encoding");
  }
  EXPECT_EQ(parse_content_encoding("br").error().message,
            "Content-Encoding \"br\" is not supported: send the body as it is, or encoded with one of gzip, deflate");
  // Two codings in turn: refused, saying so.
  const auto twice = parse_content_encoding("gzip, deflate");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message,
            "Content-Encoding \"gzip, deflate\" applies more than one coding: encode the body once, with one of gzip, deflate");
  // A huge header is not echoed whole.
  const auto huge = parse_content_encoding(std::string(10'000, 'z'));
  ASSERT_FALSE(huge);
  EXPECT_LT(huge.error().message.size(), 200u);
}

TEST(ContentEncoding, GzipAsNodeSendsIt) {
  const std::string body = gzip(kBatch);
  // Node's zlib.gzipSync writes this header (deflate, no flags, mtime 0, OS 3): so does zlib here.
  ASSERT_EQ(body.substr(0, 10), std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10));
  const auto decoded = decode_body(ContentCoding::gzip, body, 1 << 20, 64);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, kBatch);
  EXPECT_GE(decoded->capacity(), decoded->size() + 64);  // room for simdjson's in-place parse
}

TEST(ContentEncoding, GzipMembersOneAfterAnotherAreOneBody) {
  const auto decoded = decode_body(ContentCoding::gzip, gzip("{\"batch\":") + gzip("[]}"), 1 << 20);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, "{\"batch\":[]}");
}

TEST(ContentEncoding, DeflateZlibAndRaw) {
  for (const auto wrapper : {Wrapper::zlib, Wrapper::raw}) {
    const auto decoded = decode_body(ContentCoding::deflate, compress(kBatch, wrapper), 1 << 20);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, kBatch);
  }
}

TEST(ContentEncoding, LargeBodiesGrowTheOutputUntilTheEnd) {
  std::string big;
  for (int i = 0; big.size() < 3'000'000; ++i) big += R"({"type":"track","event":"e)" + std::to_string(i) + "\"},";
  const auto decoded = decode_body(ContentCoding::gzip, gzip(big), 4'000'000);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, big);
}

TEST(ContentEncoding, TheLimitIsTheDecodedSize) {
  const std::string plain(100'000, 'a');
  EXPECT_TRUE(decode_body(ContentCoding::gzip, gzip(plain), 100'000));
  const auto over = decode_body(ContentCoding::gzip, gzip(plain), 99'999);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, errc::too_large);
  EXPECT_EQ(over.error().message, "Request body exceeds 99999 bytes once decompressed (Content-Encoding: gzip)");
  EXPECT_FALSE(decode_body(ContentCoding::deflate, compress(plain, Wrapper::zlib), 99'999));
  EXPECT_FALSE(decode_body(ContentCoding::identity, plain, 99'999));
}

TEST(ContentEncoding, AGzipBombStopsAtTheLimit) {
  // 256 MiB of spaces in about 256 KiB: refused once the output passes 1 MiB, without inflating the rest.
  const std::string bomb = omt::test::gzip_bomb(256u << 20);
  ASSERT_LT(bomb.size(), 1u << 20);
  const auto decoded = decode_body(ContentCoding::gzip, bomb, 1u << 20);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::too_large);
  // The bomb itself is valid gzip: the limit is what stops it.
  const std::string small_bomb = omt::test::gzip_bomb(4u << 20);
  const auto whole = decode_body(ContentCoding::gzip, small_bomb, 4u << 20);
  ASSERT_TRUE(whole) << whole.error().message;
  EXPECT_EQ(*whole, std::string(4u << 20, ' '));
}

TEST(ContentEncoding, DataNotInTheCodingIs400NamingIt) {
  const auto plain = decode_body(ContentCoding::gzip, kBatch, 1 << 20);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, errc::invalid_request);
  EXPECT_EQ(plain.error().message, "Content-Encoding: gzip but the body is not valid gzip data: incorrect header check");

  const std::string body = gzip(kBatch);
  const auto truncated = decode_body(ContentCoding::gzip, body.substr(0, body.size() / 2), 1 << 20);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().message,
            "Content-Encoding: gzip but the body is not valid gzip data: it ends before the end of the compressed stream");

  const auto empty = decode_body(ContentCoding::gzip, "", 1 << 20);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, errc::invalid_request);

  const auto trailing = decode_body(ContentCoding::gzip, body + "garbage", 1 << 20);
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().code, errc::invalid_request);

  std::string corrupt = body;
  corrupt[corrupt.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  const auto bad_crc = decode_body(ContentCoding::gzip, corrupt, 1 << 20);
  ASSERT_FALSE(bad_crc);
  EXPECT_EQ(bad_crc.error().message, "Content-Encoding: gzip but the body is not valid gzip data: incorrect data check");

  const auto deflate_trailing = decode_body(ContentCoding::deflate, compress(kBatch, Wrapper::zlib) + "x", 1 << 20);
  ASSERT_FALSE(deflate_trailing);
  EXPECT_EQ(deflate_trailing.error().message,
            "Content-Encoding: deflate but the body is not valid deflate data: bytes after the end of the compressed stream");
}

}  // namespace
