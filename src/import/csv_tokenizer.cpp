#include "omt/import/csv_tokenizer.hpp"

#include <algorithm>
#include <cstring>

namespace omt::import {
namespace {
constexpr std::size_t read_chunk = 64 * 1024;
constexpr char bom[] = "\xEF\xBB\xBF";
}  // namespace

CsvTokenizer::CsvTokenizer(ByteSource& bytes, CsvLimits limits)
    : bytes_(bytes), limits_(limits), buffer_(read_chunk) {}

Expected<bool> CsvTokenizer::fill() {
  if (pos_ == end_) pos_ = end_ = 0;
  auto got = bytes_.read(buffer_.data() + end_, buffer_.size() - end_);
  if (!got) return tl::unexpected(got.error());
  if (*got == 0) eof_ = true;
  end_ += *got;
  if (!started_) {
    // The byte order mark may straddle the source's first reads.
    if (end_ < 3 && !eof_) return true;
    started_ = true;
    if (end_ >= 3 && std::memcmp(buffer_.data(), bom, 3) == 0) {
      pos_ = 3;
      offset_ = 3;
    }
  }
  return true;
}

void CsvTokenizer::begin_row() {
  row_.fields.clear();
  row_.problem.clear();
  row_.problem_field = CsvRow::no_field;
  text_.clear();
  bounds_.clear();
  field_begin_ = 0;
  state_ = State::field_start;
  in_row_ = false;
  field_quoted_ = last_field_quoted_ = cr_after_quote_ = false;
  row_bytes_ = 0;
}

void CsvTokenizer::flag(std::string problem, std::size_t field) {
  if (!row_.problem.empty()) return;  // the first problem names the row
  row_.problem = std::move(problem);
  row_.problem_field = field;
  text_.clear();
  bounds_.clear();
  field_begin_ = 0;
}

void CsvTokenizer::consume(std::size_t n) {
  pos_ += n;
  offset_ += n;
  row_bytes_ += n;
  if (row_bytes_ > limits_.max_row_bytes && row_.problem.empty())
    flag("the row is longer than " + std::to_string(limits_.max_row_bytes) + " bytes");
}

void CsvTokenizer::append(const char* data, std::size_t n) {
  if (row_.problem.empty() && n > 0) text_.append(data, n);
}

void CsvTokenizer::end_field() {
  last_field_quoted_ = field_quoted_;
  field_quoted_ = false;
  if (!row_.problem.empty()) return;
  if (bounds_.size() >= limits_.max_columns) {
    flag("the row has more than " + std::to_string(limits_.max_columns) + " columns");
    return;
  }
  bounds_.emplace_back(field_begin_, text_.size());
  field_begin_ = text_.size();
}

bool CsvTokenizer::end_row() {
  row_.end_offset = offset_;
  if (!row_.problem.empty()) return true;
  if (bounds_.size() == 1 && bounds_[0].first == bounds_[0].second && !last_field_quoted_) return false;
  row_.fields.reserve(bounds_.size());
  for (const auto& [begin, end] : bounds_) row_.fields.emplace_back(text_.data() + begin, end - begin);
  return true;
}

Expected<const CsvRow*> CsvTokenizer::next() {
  begin_row();
  while (true) {
    if (pos_ == end_ || !started_) {
      if (!eof_) {
        auto filled = fill();
        if (!filled) return tl::unexpected(filled.error());
        continue;
      }
      if (!in_row_) return nullptr;
      if (state_ == State::quoted) flag("the file ends inside a quoted field", bounds_.size());
      if (state_ == State::unquoted && !field_quoted_ && text_.size() > field_begin_ && text_.back() == '\r')
        text_.pop_back();
      end_field();
      if (end_row()) return &row_;
      return nullptr;
    }
    if (!in_row_) {
      in_row_ = true;
      row_.line = line_;
    }
    const char* p = buffer_.data() + pos_;
    const char* e = buffer_.data() + end_;
    switch (state_) {
      case State::field_start:
        if (*p == '"') {
          field_quoted_ = true;
          state_ = State::quoted;
          consume(1);
        } else {
          state_ = State::unquoted;
        }
        break;
      case State::unquoted: {
        const char* q = p;
        while (q < e && *q != ',' && *q != '\n') ++q;
        append(p, static_cast<std::size_t>(q - p));
        consume(static_cast<std::size_t>(q - p));
        if (q == e) break;
        const bool row_ends = *q == '\n';
        consume(1);
        if (!row_ends) {
          end_field();
          state_ = State::field_start;
          break;
        }
        ++line_;
        if (!field_quoted_ && text_.size() > field_begin_ && text_.back() == '\r') text_.pop_back();
        end_field();
        if (end_row()) return &row_;
        begin_row();
        break;
      }
      case State::quoted: {
        const char* q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(e - p)));
        if (q == nullptr) q = e;
        line_ += static_cast<std::uint64_t>(std::count(p, q, '\n'));
        append(p, static_cast<std::size_t>(q - p));
        consume(static_cast<std::size_t>(q - p));
        if (q == e) break;
        consume(1);
        state_ = State::quote_in_quoted;
        break;
      }
      case State::quote_in_quoted: {
        const char c = *p;
        if (c == '"' && !cr_after_quote_) {  // "" inside quotes: one quote
          append(p, 1);
          consume(1);
          state_ = State::quoted;
        } else if (c == ',') {
          consume(1);
          cr_after_quote_ = false;
          end_field();
          state_ = State::field_start;
        } else if (c == '\n') {
          consume(1);
          ++line_;
          end_field();
          if (end_row()) return &row_;
          begin_row();
        } else if (c == '\r' && !cr_after_quote_) {
          cr_after_quote_ = true;
          consume(1);
        } else {
          flag("text after the closing quote of field " + std::to_string(bounds_.size() + 1), bounds_.size());
          cr_after_quote_ = false;
          state_ = State::unquoted;  // read on to the next comma or line end, to find the next row
        }
        break;
      }
    }
  }
}

}  // namespace omt::import
