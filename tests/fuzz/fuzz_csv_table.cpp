// libFuzzer: any bytes as the rows of a CSV export read through one of the shipped import tables
// (mappings/import/*.json, e.g. Shopify's order export, whose rows group into one order and its line items).
// The first byte picks the table and the size of the source's reads; the file is that table's header (the
// first line of its sample, tests/cases/import/csv/NAME.csv) followed by the rest of the bytes. Must never
// crash, and: the header always binds; every record is a JSON object of the table's type with "@type" first
// and its id; a bad row says why; items stay within the file and come in order of line; and the items are the
// same whatever the reads; and every record passes import::check_record, as JSON Lines records must (the seed
// product_without_title is a product group without a Title: a bad row, never a record Ometria would refuse).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "mapping_dir.hpp"
#include "omt/import/record_check.hpp"
#include "omt/import/byte_source.hpp"
#include "omt/import/csv_reader.hpp"

namespace {

namespace fs = std::filesystem;
using omt::import::BadRow;
using omt::import::RecordItem;

struct Table {
  omt::import::CsvTable table;
  std::string header;  // the sample's first line, its line end included
};

std::vector<Table> load_tables() {
  const auto tables = omt::import::CsvTables::load(omt::test::project_mappings_dir() / "import");
  if (!tables) std::abort();
  std::vector<Table> out;
  for (const auto& name : tables->names()) {
    std::ifstream in(fs::path(OMT_SOURCE_DIR) / "tests" / "cases" / "import" / "csv" / (name + ".csv"), std::ios::binary);
    std::string header;
    if (!std::getline(in, header)) std::abort();
    out.push_back(Table{*tables->find(name), header + "\n"});
  }
  if (out.empty()) std::abort();
  return out;
}

// One line an item, for comparing two reads of the same file.
std::vector<std::string> read_all(const Table& t, const std::string& text, std::size_t chunk) {
  const omt::import::CsvTableChoice choice{t.table.type(), t.table, nullptr};
  auto reader = omt::import::CsvReader::open("fuzz.csv", omt::import::string_source(text, chunk), choice);
  if (!reader) std::abort();  // the header is the table's own
  std::vector<std::string> items;
  std::uint64_t line = 0;
  while (true) {
    auto item = (*reader)->next();
    if (!item) std::abort();  // a string source never fails
    if (!*item) break;
    if (items.size() > text.size()) std::abort();  // every item comes from a row of at least a byte
    if (const auto* record = std::get_if<RecordItem>(&**item)) {
      if (record->type != t.table.type()) std::abort();
      if (record->json.rfind("{\"@type\":\"", 0) != 0 || !nlohmann::json::accept(record->json)) std::abort();
      if (!nlohmann::json::parse(record->json).contains("id")) std::abort();  // an empty id is a bad row
      if (!omt::import::check_record(record->json)) std::abort();
      if (record->at.line < line || record->at.end_offset > text.size()) std::abort();
      line = record->at.line;
      items.push_back(std::to_string(record->at.line) + " " + std::to_string(record->at.end_offset) + " " + record->json);
    } else if (const auto* bad = std::get_if<BadRow>(&**item)) {
      if (bad->reason.empty() || bad->at.end_offset > text.size()) std::abort();
      items.push_back(std::to_string(bad->at.line) + " " + std::to_string(bad->at.end_offset) + " bad " + bad->field +
                      ": " + bad->reason);
    } else {
      std::abort();  // a CSV file holds no events
    }
  }
  return items;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<Table> tables = load_tables();
  if (size == 0) return 0;
  const Table& t = tables[data[0] % tables.size()];
  const std::size_t chunk = 1 + data[0] / tables.size() % 61;
  const std::string text = t.header + std::string(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (read_all(t, text, chunk) != read_all(t, text, text.size() + 1)) std::abort();
  return 0;
}
