// libFuzzer: any bytes as a CSV file for the streaming tokenizer (omt/import/csv_tokenizer.hpp). The first byte
// picks the size of the source's reads (1 to 64 bytes) and tight limits; the rest is the file. Must never crash,
// and: the rows are the same whatever the reads (one read of the whole file gives the same rows, lines, offsets
// and problems); lines and offsets only grow and the last offset is the file's end; a row within the limits
// has its fields, a row with a problem has none; and a good row written again (every field quoted) reads back
// as the same fields.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "omt/import/byte_source.hpp"
#include "omt/import/csv_tokenizer.hpp"

namespace {

using omt::import::CsvLimits;
using omt::import::CsvRow;

struct Row {
  std::uint64_t line = 0, end_offset = 0;
  std::vector<std::string> fields;
  std::string problem;
  std::size_t problem_field = CsvRow::no_field;
  bool operator==(const Row&) const = default;
};

struct Tokenized {
  std::vector<Row> rows;
  std::uint64_t offset = 0;  // the tokenizer's at the end
};

Tokenized tokenize(const std::string& text, std::size_t chunk, const CsvLimits& limits) {
  auto source = omt::import::string_source(text, chunk);
  omt::import::CsvTokenizer tokenizer(*source, limits);
  Tokenized out;
  while (true) {
    auto row = tokenizer.next();
    if (!row) std::abort();  // a string source never fails
    if (*row == nullptr) break;
    const CsvRow& r = **row;
    Row copy{r.line, r.end_offset, {}, r.problem, r.problem_field};
    for (auto field : r.fields) copy.fields.emplace_back(field);
    out.rows.push_back(std::move(copy));
    if (out.rows.size() > text.size() + 1) std::abort();  // every row consumes at least a byte
  }
  out.offset = tokenizer.offset();
  return out;
}

void check_rows(const Tokenized& t, const std::string& text, const CsvLimits& limits) {
  if (t.offset != text.size()) std::abort();
  std::uint64_t line = 0, end = 0;
  for (const Row& row : t.rows) {
    if (row.line <= line || row.end_offset <= end || row.end_offset > text.size()) std::abort();
    line = row.line;
    end = row.end_offset;
    if (!row.problem.empty()) {
      if (!row.fields.empty()) std::abort();
      continue;
    }
    if (row.problem_field != CsvRow::no_field) std::abort();
    if (row.fields.empty() || row.fields.size() > limits.max_columns) std::abort();
    std::size_t bytes = 0;
    for (const auto& f : row.fields) bytes += f.size();
    if (bytes > limits.max_row_bytes) std::abort();
  }
}

// Every field quoted, quotes doubled: RFC 4180's own way of writing any text.
std::string quoted_row(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (const char c : fields[i]) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out + "\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  CsvLimits limits;
  if (data[0] & 0x40) {  // tight limits, so that short inputs reach them
    limits.max_row_bytes = 64;
    limits.max_columns = 8;
  }
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Tokenized small_reads = tokenize(text, chunk, limits);
  check_rows(small_reads, text, limits);
  const Tokenized one_read = tokenize(text, text.size() + 1, limits);
  if (one_read.rows != small_reads.rows || one_read.offset != small_reads.offset) std::abort();

  // The good rows written again read back as the same fields (the quoted form may be longer than the limit).
  std::string again;
  std::vector<std::vector<std::string>> good;
  for (const Row& row : small_reads.rows) {
    if (!row.problem.empty()) continue;
    again += quoted_row(row.fields);
    good.push_back(row.fields);
  }
  CsvLimits roomy = limits;
  roomy.max_row_bytes = again.size() + 1;
  const Tokenized reread = tokenize(again, chunk, roomy);
  if (reread.rows.size() != good.size()) std::abort();
  for (std::size_t i = 0; i < good.size(); ++i)
    if (!reread.rows[i].problem.empty() || reread.rows[i].fields != good[i]) std::abort();
  return 0;
}
