// JSON Lines input (one JSON object a line, plain or gzip through a ByteSource): events as EventItems (transformed
// later, as ingest would), or native Ometria records checked by check_record (RecordItem or BadRow). Blank lines
// are skipped; a line longer than max_line_bytes is a bad row, and reading goes on at the next line. Memory is
// the source's buffer plus one line.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "omt/import/byte_source.hpp"
#include "omt/import/input_format.hpp"
#include "omt/import/item.hpp"

namespace omt::import {

// Far above any event or 60 KB record: a longer line is not one of them.
inline constexpr std::size_t max_line_bytes = 4u << 20;

class JsonLinesReader final : public ItemReader {
 public:
  // format: events or records. `file` is the name its items are placed at.
  JsonLinesReader(std::unique_ptr<ByteSource> source, std::string file, InputFormat format);
  Expected<std::optional<Item>> next() override;
  std::uint64_t bytes_read() const override { return source_->bytes_read(); }
  void give_back(std::string&& text) override;

 private:
  // The next line without its end of line (CR LF too), or nullopt at the end of the text.
  Expected<std::optional<std::string_view>> next_line(bool& too_long);

  std::unique_ptr<ByteSource> source_;
  std::string file_;
  InputFormat format_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;  // unread bytes: buffer_[begin_, end_)
  bool at_end_ = false;
  std::string long_line_;  // a line that did not fit the buffer
  std::uint64_t line_ = 0;
  std::uint64_t offset_ = 0;  // of the decompressed text, just past the last line returned
  std::vector<std::string> spare_;  // events' texts handed back, to fill again (at most spare_bytes_max in all)
  std::size_t spare_bytes_ = 0;
};

// The first non-empty line of a file (plain or gzip), for detect_format: at most max_line_bytes of it; empty
// when the file has none.
Expected<std::string> first_non_empty_line(const std::filesystem::path& file);

// The files of an input argument: a file itself, or every regular file under a folder (recursively, as
// RudderStack's event archive lays them out; names starting with '.' left out), in sorted path order so that
// every run reads them in the same order.
Expected<std::vector<std::filesystem::path>> input_files(const std::filesystem::path& argument);

}  // namespace omt::import
