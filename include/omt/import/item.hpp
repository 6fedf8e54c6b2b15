// What an import reads from its input files, whatever their format: one item per event, record or bad row, each
// with the place it came from (file and line), so that a plan can name every invalid row as FILE:LINE and a
// checkpoint can say how far into a file the import got. Readers stream: memory does not grow with file size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::import {

// Where an item was read: the file as named on the command line (or found in a folder), its 1-based line (the
// first line of a multi-line CSV row, or of a grouped order's first row), and the byte offset just past the
// item in the file's decompressed text (a resumed import skips to the item after a checkpoint's offset).
struct SourcePlace {
  std::string file;
  std::uint64_t line = 0;
  std::uint64_t end_offset = 0;
};

// A RudderStack / Segment event (one JSON object, as a client would send it): transformed exactly as ingest
// transforms an event of the import's source.
struct EventItem {
  SourcePlace at;
  std::string json;
};

// A native Ometria record, already checked: its @type, and its compact JSON.
struct RecordItem {
  SourcePlace at;
  ometria::RecordType type = ometria::RecordType::contact;
  std::string json;
};

// A row that cannot be imported: "FILE:LINE: field: reason" in the plan.
struct BadRow {
  SourcePlace at;
  std::string field;   // the field (column, JSON path) at fault; empty when the row as a whole is (not JSON)
  std::string reason;
};

using Item = std::variant<EventItem, RecordItem, BadRow>;

// A reader of one input file. next() gives the following item, std::nullopt at the end, or an error that stops
// the file (unreadable, truncated gzip): a bad row is an item, not an error.
class ItemReader {
 public:
  virtual ~ItemReader() = default;
  virtual Expected<std::optional<Item>> next() = 0;
  // Bytes of the file consumed so far (compressed bytes for gzip): for progress, not for resuming.
  virtual std::uint64_t bytes_read() const = 0;
  // An item's text, used and handed back by the thread that read it (classify_pipeline.hpp), to be filled again:
  // a line then costs no allocation, and memory is freed by the thread that allocated it. A reader may drop it.
  virtual void give_back(std::string&& text) { (void)text; }
};

}  // namespace omt::import
