// CSV mapping tables (mappings/import/NAME.json): which record a CSV layout makes, which column feeds which
// Ometria field and how each cell is read, and how consecutive rows group into one record. Data, not code: a
// new layout is a new table. Each table is loaded and checked once; errors name the table file and the key.
// The format is documented in mappings/README.md, "Import tables (mappings/import/)".
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::import {

namespace csv {
struct CompiledTable;  // csv_table_internal.hpp
}

class CsvTable {
 public:
  const std::string& name() const;  // the file's stem: "shopify_orders"
  const std::string& file() const;  // as loaded from, for messages
  ometria::RecordType type() const;
  // Header names that tell this layout apart (all present: the table fits); empty: never chosen by itself.
  const std::vector<std::string>& detect() const;
  const csv::CompiledTable& compiled() const { return *table_; }

  explicit CsvTable(std::shared_ptr<const csv::CompiledTable> table) : table_(std::move(table)) {}

 private:
  std::shared_ptr<const csv::CompiledTable> table_;
};

// A table from its JSON text; `file` names it in errors ("shopify_orders.json") and gives its name (the stem).
// errc::invalid_config: "csv table error in shopify_orders.json fields[3] (to \"lineitems[].quantity\"):
// unknown key \"reed\"".
Expected<CsvTable> parse_csv_table(std::string_view json_text, const std::string& file);
Expected<CsvTable> load_csv_table(const std::filesystem::path& path);

// Every table of a folder (the shipped ones: <mappings>/import), loaded and checked at once.
class CsvTables {
 public:
  static Expected<CsvTables> load(const std::filesystem::path& dir);

  std::vector<std::string> names() const;  // sorted
  const CsvTable* find(std::string_view name) const;

  // --csv-table NAME|FILE: a name of this folder, or a path (it holds a '/' or ends in .json) loaded now.
  Expected<CsvTable> resolve(std::string_view name_or_file) const;

  // The one table of `type` whose detect headers are all in `header`: several or none is an error that lists
  // the candidates and asks for --csv-table. (Ometria's contact headers are lower case, `email`; Shopify's are
  // capitalised, `Email` with `First Name`: they never both fit.)
  Expected<CsvTable> detect(ometria::RecordType type, const std::vector<std::string>& header) const;

 private:
  std::vector<CsvTable> tables_;
};

}  // namespace omt::import
