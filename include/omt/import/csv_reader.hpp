// The CSV import reader: one file's rows, mapped by a CSV table (csv_table.hpp), as Ometria records or bad
// rows (item.hpp). It streams: memory stays bounded by CsvLimits (one row, one group of rows) whatever the
// file's size. Rows that share a group key become one record (a Shopify order and its line items); a bad cell
// makes its whole group one BadRow naming the column and the line, and reading goes on at the next group.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "omt/error.hpp"
#include "omt/import/byte_source.hpp"
#include "omt/import/csv_table.hpp"
#include "omt/import/csv_tokenizer.hpp"
#include "omt/import/item.hpp"

namespace omt::import {

// Which table reads a file: --csv-table when given, else the one of `type` the header fits (CsvTables::detect).
struct CsvTableChoice {
  ometria::RecordType type = ometria::RecordType::contact;  // --type
  std::optional<CsvTable> table;                            // --csv-table NAME|FILE, already resolved
  const CsvTables* detect_among = nullptr;                  // without one: the shipped tables
};

struct CsvReaderOptions {
  CsvLimits limits;
  // Resuming: rows that end at or before this offset (a checkpoint's SourcePlace::end_offset) are read past
  // without yielding anything. The header is always read.
  std::uint64_t resume_after = 0;
};

class CsvReader final : public ItemReader {
 public:
  // Reads the header and binds the table to it. Errors (errc::invalid_config or the source's errc::io) stop
  // the file: the table is of another type, no table fits the header, a required column is missing, the
  // header row is malformed. An empty file (no header at all) is no error: it yields nothing.
  static Expected<std::unique_ptr<CsvReader>> open(std::string file, std::unique_ptr<ByteSource> bytes,
                                                   const CsvTableChoice& choice, CsvReaderOptions options = {});

  // RecordItem (the table's type; compact JSON in Ometria's push format, "@type" and "id" first) or BadRow
  // ("field" the CSV column, or "" for the row as a whole). A group's records share its first line; all but
  // the last carry the group's start offset, so that a resume from any of them reads the group again.
  Expected<std::optional<Item>> next() override;
  std::uint64_t bytes_read() const override;

  // The table in use: its name for the plan ("read by shopify_orders"); nullptr for an empty file.
  const CsvTable* table() const;

  ~CsvReader() override;
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

 private:
  struct Impl;
  explicit CsvReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace omt::import
