#include "table_import.hpp"

namespace omt::queue::postgres {
namespace {

std::string identifier(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// An array literal of the texts, NULL unquoted; PostgreSQL reads each element with the array's element type.
std::string array_literal(const std::vector<TextRow>& rows, std::size_t column) {
  std::string out = "{";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ',';
    const auto& value = rows[r][column];
    if (!value) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *value) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

Expected<bool> table_exists(Connection& db, const std::string& table) {
  Params p;
  p.add(table);
  auto r = db.exec("SELECT to_regclass($1) IS NOT NULL", p, "look for table " + table);
  if (!r) return tl::unexpected(r.error());
  return r->text(0, 0) == "t";
}

Expected<std::uint64_t> count_rows(Connection& db, const std::string& table) {
  auto r = db.exec("SELECT COUNT(*) FROM " + identifier(table), "count " + table);
  if (!r) return tl::unexpected(r.error());
  return static_cast<std::uint64_t>(r->integer(0, 0));
}

Expected<void> raise_id_sequence(Connection& db, const std::string& table, std::int64_t floor) {
  Params p;
  p.add(table);
  auto seq = db.exec("SELECT pg_get_serial_sequence($1, 'id')", p, "find the id sequence of " + table);
  if (!seq) return tl::unexpected(seq.error());
  if (seq->is_null(0, 0)) return {};
  Params q;
  q.add(seq->text(0, 0)).add(floor);
  auto set = db.exec("SELECT setval($1::regclass, GREATEST($2::bigint, (SELECT COALESCE(MAX(id), 0) FROM " +
                         identifier(table) + "), 1))",
                     q, "move the id sequence of " + table + " on");
  if (!set) return tl::unexpected(set.error());
  return {};
}

Expected<TableImport> TableImport::prepare(Connection& db, std::string table, std::vector<std::string> columns) {
  std::string sql = "INSERT INTO " + identifier(table) + "(";
  std::string unnest;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    Params p;
    p.add(table).add(columns[i]);
    auto type = db.exec(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped",
        p, "read the type of " + table + "." + columns[i]);
    if (!type) return tl::unexpected(type.error());
    if (type->rows() != 1) {
      return fail(errc::io, "queue: postgres: the table " + table + " has no column " + columns[i], db.where());
    }
    if (i) {
      sql += ", ";
      unnest += ", ";
    }
    sql += identifier(columns[i]);
    unnest += "$" + std::to_string(i + 1) + "::" + type->text(0, 0) + "[]";
  }
  sql += ") SELECT * FROM unnest(" + unnest + ")";
  return TableImport(db, std::move(table), std::move(columns), std::move(sql));
}

Expected<void> TableImport::insert(const std::vector<TextRow>& rows) {
  if (rows.empty()) return {};
  for (const auto& row : rows) {
    if (row.size() != columns_.size()) return fail(errc::io, "queue: postgres: a row for " + table_ + " has the wrong width");
  }
  Params p;
  for (std::size_t c = 0; c < columns_.size(); ++c) p.add(array_literal(rows, c));
  auto r = db_->exec(sql_, p, "insert into " + table_);
  if (!r) return tl::unexpected(r.error());
  if (r->changed() != rows.size()) {
    return fail(errc::io, "queue: postgres: " + table_ + " took " + std::to_string(r->changed()) + " of " +
                              std::to_string(rows.size()) + " rows", db_->where());
  }
  return {};
}

}  // namespace omt::queue::postgres
