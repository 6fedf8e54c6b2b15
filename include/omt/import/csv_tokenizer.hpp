// RFC 4180 CSV, streamed: rows out of a ByteSource one at a time, with memory bounded by the limits whatever
// the file's size. Quoted fields may hold commas, doubled quotes ("") and line ends; rows end with LF or CRLF;
// a UTF-8 byte order mark at the start is skipped. A row past a limit, or malformed, is returned with its
// problem (never a crash) and reading resumes at the next row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omt/error.hpp"
#include "omt/import/byte_source.hpp"

namespace omt::import {

struct CsvLimits {
  std::size_t max_row_bytes = 1024 * 1024;  // one row as written, quotes and line ends included
  std::size_t max_columns = 1024;
  std::size_t max_group_rows = 10000;        // rows grouped into one record (CsvReader)
  std::size_t max_group_bytes = 4 * 1024 * 1024;  // the JSON of one group's records (CsvReader)
};

struct CsvRow {
  std::uint64_t line = 0;        // 1-based physical line of the row's first byte
  std::uint64_t end_offset = 0;  // byte offset just past the row and its line end (the BOM counts)
  std::vector<std::string_view> fields;  // unquoted and unescaped; valid until the next call of next()
  std::string problem;           // non-empty: the row is malformed or over a limit, and `fields` is empty
  std::size_t problem_field = no_field;  // the 0-based field at fault, when one is
  static constexpr std::size_t no_field = static_cast<std::size_t>(-1);
};

// Rules beyond RFC 4180, each chosen so that real exports read as their authors meant:
// - a line holding nothing (LF or CRLF alone) is no row, wherever it is;
// - a quote inside an unquoted field is kept as a character (`5" screen`);
// - a lone CR that does not end a row is kept as a character;
// - text between a closing quote and the next comma ("a"b) is a malformed row.
class CsvTokenizer {
 public:
  CsvTokenizer(ByteSource& bytes, CsvLimits limits);

  // The next row, nullptr at the end of the input, or the source's error. A file that ends inside quotes
  // gives a last row whose problem says so.
  Expected<const CsvRow*> next();

  // Bytes of the decompressed text consumed so far.
  std::uint64_t offset() const { return offset_; }

 private:
  enum class State : std::uint8_t { field_start, unquoted, quoted, quote_in_quoted };
  Expected<bool> fill();
  void append(const char* data, std::size_t n);
  void end_field();
  bool end_row();  // false: the row was blank and is skipped
  void flag(std::string problem, std::size_t field = CsvRow::no_field);
  void begin_row();
  void consume(std::size_t n);

  ByteSource& bytes_;
  CsvLimits limits_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0, end_ = 0;
  bool eof_ = false, started_ = false;
  std::uint64_t offset_ = 0;  // of buffer_[pos_]
  std::uint64_t line_ = 1;

  State state_ = State::field_start;
  bool in_row_ = false;
  bool field_quoted_ = false;
  bool last_field_quoted_ = false;
  bool cr_after_quote_ = false;
  std::size_t row_bytes_ = 0;
  std::string text_;  // the current row's field bytes, back to back
  std::vector<std::pair<std::size_t, std::size_t>> bounds_;  // each field's [begin, end) in text_
  std::size_t field_begin_ = 0;
  CsvRow row_;
};

}  // namespace omt::import
