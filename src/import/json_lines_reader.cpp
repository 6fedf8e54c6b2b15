// Lines are cut in the source's buffer and handed out as views into it; only a line that straddles the buffer's
// end is moved to its front, and only one longer than the buffer is copied aside.
#include "omt/import/json_lines_reader.hpp"

#include <algorithm>
#include <cstring>

#include "omt/import/event_mapping.hpp"
#include "omt/import/file_source.hpp"
#include "omt/import/record_check.hpp"

namespace omt::import {

JsonLinesReader::JsonLinesReader(std::unique_ptr<ByteSource> source, std::string file, InputFormat format)
    : source_(std::move(source)), file_(std::move(file)), format_(format), buffer_(file_buffer_bytes) {}

Expected<std::optional<std::string_view>> JsonLinesReader::next_line(bool& too_long) {
  too_long = false;
  long_line_.clear();
  bool long_line = false;  // part of this line is in long_line_
  // The line that ends here (`tail`: its part still in the buffer), without a CR before its LF.
  const auto line_of = [&](std::string_view tail) -> std::optional<std::string_view> {
    std::string_view line = tail;
    if (long_line) {
      if (!too_long) long_line_.append(tail);
      line = long_line_;
    }
    if (too_long || line.size() > max_line_bytes) {
      too_long = true;
      return std::string_view();
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* newline = std::memchr(start, '\n', end_ - begin_);
    if (newline != nullptr) {
      const std::size_t length = static_cast<const char*>(newline) - start;
      begin_ += length + 1;
      offset_ += length + 1;
      return line_of(std::string_view(start, length));
    }
    if (at_end_) {
      if (begin_ == end_ && !long_line) return std::optional<std::string_view>{};
      // The last line has no newline.
      const std::string_view tail(start, end_ - begin_);
      offset_ += tail.size();
      begin_ = end_;
      return line_of(tail);
    }
    // No newline in what is buffered: keep the partial line, read more.
    if (begin_ == 0 && end_ == buffer_.size()) {
      // The buffer is one partial line: set it aside (up to the limit), and read on.
      if (!too_long) {
        long_line_.append(buffer_.data(), end_);
        if (long_line_.size() > max_line_bytes) {
          too_long = true;
          long_line_.clear();
        }
      }
      long_line = true;
      offset_ += end_;
      begin_ = end_ = 0;
    } else if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    auto n = source_->read(buffer_.data() + end_, buffer_.size() - end_);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) at_end_ = true;
    end_ += *n;
  }
}

Expected<std::optional<Item>> JsonLinesReader::next() {
  for (;;) {
    bool too_long = false;
    auto line = next_line(too_long);
    if (!line) return tl::unexpected(line.error());
    if (!*line) return std::optional<Item>{};
    ++line_;
    SourcePlace at{file_, line_, offset_};
    if (too_long)
      return std::optional<Item>(BadRow{std::move(at), "", "line longer than " + std::to_string(max_line_bytes) + " bytes"});
    std::string_view text = **line;
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;  // blank
    if (format_ == InputFormat::events) {
      std::string json;
      if (!spare_.empty()) {
        json = std::move(spare_.back());
        spare_.pop_back();
        spare_bytes_ -= json.capacity();
      }
      json.reserve(text.size() + event_text_padding);  // parsed where it is, not copied first
      json.assign(text);
      return std::optional<Item>(EventItem{std::move(at), std::move(json)});
    }
    auto checked = check_record(text);
    if (!checked) return std::optional<Item>(BadRow{std::move(at), checked.error().path, checked.error().message});
    return std::optional<Item>(RecordItem{std::move(at), checked->type, std::move(checked->json)});
  }
}

void JsonLinesReader::give_back(std::string&& text) {
  // Kept while they are few and ordinary: as many as the items in flight need, never one an odd line made huge.
  constexpr std::size_t spare_bytes_max = 8u << 20, spare_text_max = 64u << 10;
  if (text.capacity() > spare_text_max || spare_bytes_ + text.capacity() > spare_bytes_max) return;
  spare_bytes_ += text.capacity();
  spare_.push_back(std::move(text));
}

Expected<std::string> first_non_empty_line(const std::filesystem::path& file) {
  auto source = open_file_source(file);
  if (!source) return tl::unexpected(source.error());
  std::string line;
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    auto n = (*source)->read(buffer.data(), buffer.size());
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) break;
    for (std::size_t i = 0; i < *n; ++i) {
      const char c = buffer[i];
      if (c == '\n') {
        if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
        line.clear();
      } else if (line.size() < max_line_bytes) {
        line += c;
      }
    }
  }
  if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  return std::string();
}

Expected<std::vector<std::filesystem::path>> input_files(const std::filesystem::path& argument) {
  std::error_code ec;
  const auto status = std::filesystem::status(argument, ec);
  if (ec || !std::filesystem::exists(status))
    return fail(errc::io, argument.string() + ": no such file or folder", argument.string());
  if (!std::filesystem::is_directory(status)) return std::vector<std::filesystem::path>{argument};
  std::vector<std::filesystem::path> files;
  std::filesystem::recursive_directory_iterator it(argument, std::filesystem::directory_options::none, ec), end;
  if (ec) return fail(errc::io, argument.string() + ": cannot list the folder: " + ec.message(), argument.string());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(errc::io, argument.string() + ": cannot list the folder: " + ec.message(), argument.string());
    const auto name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace omt::import
