// The streaming RFC 4180 tokenizer: quoting, line ends, BOM, limits and resynchronisation, each case read with
// one-byte reads as well as whole-file reads (a row must not care where the source's reads split it).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "omt/import/byte_source.hpp"
#include "omt/import/file_source.hpp"
#include "omt/import/csv_tokenizer.hpp"

namespace {

using omt::import::CsvLimits;
using omt::import::CsvTokenizer;

struct Row {
  std::uint64_t line, end;
  std::vector<std::string> fields;
  std::string problem;
  std::size_t problem_field = omt::import::CsvRow::no_field;
};

std::vector<Row> rows_of(const std::string& text, std::size_t chunk, CsvLimits limits = {}) {
  auto source = omt::import::string_source(text, chunk);
  CsvTokenizer tokenizer(*source, limits);
  std::vector<Row> rows;
  while (true) {
    auto row = tokenizer.next();
    EXPECT_TRUE(row.has_value());
    if (!row || *row == nullptr) break;
    Row r{(*row)->line, (*row)->end_offset, {}, (*row)->problem, (*row)->problem_field};
    for (auto f : (*row)->fields) r.fields.emplace_back(f);
    rows.push_back(std::move(r));
  }
  return rows;
}

// The same rows whatever the read size.
std::vector<Row> rows_of(const std::string& text, CsvLimits limits = {}) {
  auto whole = rows_of(text, 1 << 20, limits);
  for (std::size_t chunk : {1u, 2u, 3u, 7u}) {
    auto split = rows_of(text, chunk, limits);
    EXPECT_EQ(split.size(), whole.size()) << "chunk " << chunk;
    for (std::size_t i = 0; i < std::min(split.size(), whole.size()); ++i) {
      EXPECT_EQ(split[i].fields, whole[i].fields) << "chunk " << chunk << " row " << i;
      EXPECT_EQ(split[i].line, whole[i].line) << "chunk " << chunk << " row " << i;
      EXPECT_EQ(split[i].end, whole[i].end) << "chunk " << chunk << " row " << i;
      EXPECT_EQ(split[i].problem, whole[i].problem) << "chunk " << chunk << " row " << i;
    }
  }
  return whole;
}

using Fields = std::vector<std::string>;

TEST(CsvTokenizer, PlainRowsWithLineNumbersAndEndOffsets) {
  const auto rows = rows_of("a,b,c\n1,2,3\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_EQ(rows[0].end, 6u);
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_EQ(rows[1].end, 12u);
}

TEST(CsvTokenizer, QuotedFieldsHoldCommasDoubledQuotesAndNewlines) {
  const auto rows = rows_of("h1,h2\n\"a, b\",\"say \"\"hi\"\"\"\n\"two\nlines\r\nhere\",x\nlast,row\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].fields, (Fields{"a, b", "say \"hi\""}));
  EXPECT_EQ(rows[2].fields, (Fields{"two\nlines\r\nhere", "x"}));
  EXPECT_EQ(rows[2].line, 3u);  // the physical line the row starts on
  EXPECT_EQ(rows[3].line, 6u);  // after a row of three lines
}

TEST(CsvTokenizer, CrlfAndLfAlikeAndNoFinalLineEnd) {
  const auto rows = rows_of("a,b\r\n1,\"2\"\r\n3,4");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(rows[1].end, 12u);
  EXPECT_EQ(rows[2].fields, (Fields{"3", "4"}));
  EXPECT_EQ(rows[2].end, 15u);
}

TEST(CsvTokenizer, ByteOrderMarkIsSkippedButCountsInOffsets) {
  const auto rows = rows_of("\xEF\xBB\xBFname,x\n1,2\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"name", "x"}));
  EXPECT_EQ(rows[0].end, 10u);
  // Only at the very start: elsewhere the bytes are data.
  const auto inner = rows_of("a\n\xEF\xBB\xBF" "b\n");
  EXPECT_EQ(inner[1].fields, (Fields{"\xEF\xBB\xBF" "b"}));
}

TEST(CsvTokenizer, EmptyFieldsAndTrailingComma) {
  const auto rows = rows_of(",,\n\"\",x,\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"", "", ""}));
  EXPECT_EQ(rows[1].fields, (Fields{"", "x", ""}));
}

TEST(CsvTokenizer, BlankLinesAreNoRows) {
  const auto rows = rows_of("a\n\n\r\nb\n\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"b"}));
  EXPECT_EQ(rows[1].line, 4u);
  // A quoted empty field is a row.
  EXPECT_EQ(rows_of("\"\"\n").size(), 1u);
}

TEST(CsvTokenizer, EmptyInputHasNoRows) {
  EXPECT_TRUE(rows_of("").empty());
  EXPECT_TRUE(rows_of("\xEF\xBB\xBF").empty());
  EXPECT_TRUE(rows_of("\n\n").empty());
}

TEST(CsvTokenizer, QuoteInsideAnUnquotedFieldIsKept) {
  const auto rows = rows_of("5\" screen,b\n");
  EXPECT_EQ(rows[0].fields, (Fields{"5\" screen", "b"}));
}

TEST(CsvTokenizer, TextAfterAClosingQuoteIsAMalformedRowAndReadingGoesOn) {
  const auto rows = rows_of("a,b\n\"x\"y,z\nok,1\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, "text after the closing quote of field 1");
  EXPECT_EQ(rows[1].problem_field, 0u);
  EXPECT_TRUE(rows[1].fields.empty());
  EXPECT_EQ(rows[2].fields, (Fields{"ok", "1"}));
  EXPECT_EQ(rows[2].line, 3u);
}

TEST(CsvTokenizer, UnterminatedQuoteAtTheEndIsAProblemRow) {
  const auto rows = rows_of("a,b\n1,\"never closed\n2,3\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].problem, "the file ends inside a quoted field");
  EXPECT_EQ(rows[1].line, 2u);
}

TEST(CsvTokenizer, RowOverTheByteLimitIsAProblemAndTheNextRowIsRead) {
  CsvLimits limits;
  limits.max_row_bytes = 32;
  const std::string huge(10000, 'x');
  const auto rows = rows_of("a,b\n" + huge + ",\"" + huge + "\n" + huge + "\"\nnext,row\n", limits);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, "the row is longer than 32 bytes");
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_EQ(rows[2].fields, (Fields{"next", "row"}));
  EXPECT_EQ(rows[2].line, 4u);
}

TEST(CsvTokenizer, RowOverTheColumnLimitIsAProblem) {
  CsvLimits limits;
  limits.max_columns = 3;
  const auto rows = rows_of("a,b,c\n1,2,3,4,5\n6,7,8\n", limits);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, "the row has more than 3 columns");
  EXPECT_EQ(rows[2].fields, (Fields{"6", "7", "8"}));
}

TEST(CsvTokenizer, LoneCarriageReturnIsData) {
  const auto rows = rows_of("a\rb,c\n");
  EXPECT_EQ(rows[0].fields, (Fields{"a\rb", "c"}));
}

TEST(CsvTokenizer, FileSourceReadsAFile) {
  const std::string path = ::testing::TempDir() + "csv_tokenizer_file.csv";
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs("a,b\n1,2\n", f);
    std::fclose(f);
  }
  auto source = omt::import::open_file_source(path);
  ASSERT_TRUE(source.has_value());
  CsvTokenizer tokenizer(**source, {});
  int n = 0;
  while (true) {
    auto row = tokenizer.next();
    ASSERT_TRUE(row.has_value());
    if (*row == nullptr) break;
    ++n;
  }
  EXPECT_EQ(n, 2);
  EXPECT_EQ((*source)->bytes_read(), 8u);
  std::remove(path.c_str());
  auto missing = omt::import::open_file_source(path);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, omt::errc::io);
  EXPECT_NE(missing.error().message.find(path), std::string::npos);
}

}  // namespace
