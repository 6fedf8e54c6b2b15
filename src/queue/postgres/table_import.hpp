// Writing rows read elsewhere into the PostgreSQL queue's tables, for `queue migrate`: columns named, values as
// text cast to each column's own type (read from the catalogue, so a table entry needs no types), many rows per
// INSERT (unnest of one array per column). Runs inside the caller's transaction; never commits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"

namespace omt::queue::postgres {

using TextRow = std::vector<std::optional<std::string>>;

class TableImport {
 public:
  // The table's columns' types; fails when the table or one of the columns is missing.
  static Expected<TableImport> prepare(Connection& db, std::string table, std::vector<std::string> columns);
  Expected<void> insert(const std::vector<TextRow>& rows);

 private:
  TableImport(Connection& db, std::string table, std::vector<std::string> columns, std::string sql)
      : db_(&db), table_(std::move(table)), columns_(std::move(columns)), sql_(std::move(sql)) {}
  Connection* db_;
  std::string table_;
  std::vector<std::string> columns_;
  std::string sql_;
};

// Whether the database has the table (in the search path).
Expected<bool> table_exists(Connection& db, const std::string& table);
Expected<std::uint64_t> count_rows(Connection& db, const std::string& table);
// When the table's column `id` takes its default from a sequence: moves the sequence on so that it never hands
// out an id at or below `floor` (nor one the table holds). No sequence: nothing is done.
Expected<void> raise_id_sequence(Connection& db, const std::string& table, std::int64_t floor);

}  // namespace omt::queue::postgres
