#include "omt/import/csv_reader.hpp"

#include <algorithm>
#include <deque>

#include "import/csv_table_internal.hpp"
#include "omt/core/text.hpp"
#include "omt/import/record_check.hpp"

namespace omt::import {
namespace {

using csv::Field;
using csv::Node;
using csv::Shape;

// A value written into the group's arena: len 0 means "no value" (no JSON value is empty).
struct Span {
  std::uint32_t offset = 0;
  std::uint32_t len = 0;
};

// A table's part (the record, or eachRow) bound to one file's header: each field's column index (-1: absent).
struct BoundPart {
  std::vector<Field> fields;
  Shape shape;
  std::vector<int> columns;
};

int column_of(const std::vector<std::string>& header, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it != header.end()) return static_cast<int>(it - header.begin());
  }
  return -1;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

Expected<BoundPart> bind_to_header(const csv::Part& part, const std::vector<std::string>& header, const std::string& file,
                         const std::string& table_file, bool check_required) {
  BoundPart bound;
  for (const auto& f : part.fields) {
    if (f.columns_starting_with.empty()) {
      bound.fields.push_back(f);
      bound.columns.push_back(f.columns.empty() ? -1 : column_of(header, f.columns));
      if (check_required && f.required && bound.columns.back() < 0)
        return fail(errc::invalid_config,
                    file + ": the header has no column " + quoted_list(f.columns) + ", which " + table_file + " " +
                        f.where + " requires",
                    file);
      continue;
    }
    // One field per matching column: "properties.tier" -> properties.tier.
    for (std::size_t c = 0; c < header.size(); ++c) {
      const std::string& name = header[c];
      if (name.size() <= f.columns_starting_with.size() || name.compare(0, f.columns_starting_with.size(), f.columns_starting_with) != 0)
        continue;
      Field one = f;
      one.columns_starting_with.clear();
      one.columns = {name};
      one.to = f.to + "." + name.substr(f.columns_starting_with.size());
      one.where = f.where + " (column \"" + name + "\")";
      bound.fields.push_back(std::move(one));
      bound.columns.push_back(static_cast<int>(c));
    }
  }
  auto shape = csv::build_shape(bound.fields, file + ": " + table_file);
  if (!shape) return tl::unexpected(shape.error());
  bound.shape = std::move(*shape);
  return bound;
}

}  // namespace

struct CsvReader::Impl {
  std::string file;
  std::unique_ptr<ByteSource> bytes;
  CsvReaderOptions options;
  CsvTokenizer tokenizer;
  std::optional<CsvTable> table;
  std::vector<std::string> header;
  BoundPart record;
  std::optional<BoundPart> each_row;
  int group_column = -1;
  int when_column = -1;
  std::string type_json;  // {"@type":"order"

  // The row the tokenizer holds, not yet taken (it waits while a finished group is handed out first).
  const CsvRow* row = nullptr;
  bool row_ready = false;
  bool eof = false;
  std::uint64_t last_end = 0;  // offset past the last row taken (or the header)
  std::deque<Item> out;
  std::vector<BadRow> malformed;  // malformed rows met inside an open group, until the next good row

  // The open group.
  bool open = false;
  std::string key;
  std::uint64_t first_line = 0, start_offset = 0, end_offset = 0;
  std::size_t rows = 0;
  std::optional<BadRow> bad;
  std::string values;  // every value of the group's records, back to back
  std::vector<Span> main;
  std::vector<std::vector<Span>> elements;  // per array: element values, shape.slots a element
  std::vector<std::size_t> element_counts;
  std::vector<std::string> row_records;
  std::size_t row_record_bytes = 0;
  std::vector<Span> row_values;
  std::string first_text;  // the group's first row, for eachRow fields with firstRow
  std::vector<Span> first_cells;
  std::vector<std::string_view> first_views;
  std::string reason;

  Impl(std::string f, std::unique_ptr<ByteSource> b, CsvReaderOptions o)
      : file(std::move(f)), bytes(std::move(b)), options(o), tokenizer(*bytes, o.limits) {}

  std::string column_name(int column, const Field& f) const {
    if (column >= 0) return header[static_cast<std::size_t>(column)];
    return f.columns.empty() ? f.to : f.columns.front();
  }

  void set_bad(std::uint64_t line, std::string field, std::string why) {
    if (bad) return;
    bad = BadRow{SourcePlace{file, line, 0}, std::move(field), std::move(why)};
  }

  // Fills `target` (slot values) from the fields of `part` that belong to `array` (-1: the record itself).
  // false: the row is bad (set_bad was called).
  bool evaluate(const BoundPart& part, int array, const std::vector<std::string_view>& cells, std::uint64_t line,
                Span* target, bool only_empty, bool defer_required, bool& any) {
    for (std::size_t i = 0; i < part.fields.size(); ++i) {
      const Field& f = part.fields[i];
      if (f.array != array) continue;
      Span& slot = target[f.slot];
      if (only_empty && slot.len != 0) continue;
      const int column = part.columns[i];
      const std::vector<std::string_view>& source = f.first_row ? first_views : cells;
      const std::string_view cell =
          column >= 0 ? text::trim(source[static_cast<std::size_t>(column)]) : std::string_view{};
      if (f.has_const) {
        if (f.columns.empty() || !cell.empty()) {
          slot = {static_cast<std::uint32_t>(values.size()), static_cast<std::uint32_t>(f.const_json.size())};
          values += f.const_json;
          any = true;
        }
        continue;
      }
      if (column < 0) continue;
      if (cell.empty()) {
        if (f.required && !defer_required) {
          set_bad(line, column_name(column, f), "is empty, and the table requires it");
          return false;
        }
        continue;
      }
      const std::size_t before = values.size();
      switch (csv::write_value(f.value, cell, values, reason)) {
        case csv::Outcome::written:
          slot = {static_cast<std::uint32_t>(before), static_cast<std::uint32_t>(values.size() - before)};
          any = true;
          break;
        case csv::Outcome::skipped: break;
        case csv::Outcome::invalid:
          values.resize(before);
          if (f.skip_invalid) break;
          set_bad(line, column_name(column, f), reason);
          return false;
      }
    }
    return true;
  }

  bool has_value(const Node& node, const Span* vals) const {
    if (node.slot >= 0) return vals[node.slot].len != 0;
    if (node.array >= 0) return element_counts[static_cast<std::size_t>(node.array)] > 0;
    return std::any_of(node.children.begin(), node.children.end(), [&](const Node& c) { return has_value(c, vals); });
  }

  void write_members(const Node& node, const Span* vals, int slots, std::string& json, bool first) const {
    for (const Node& child : node.children) {
      if (!has_value(child, vals)) continue;
      if (!first) json += ',';
      first = false;
      json += child.key_json;
      if (child.slot >= 0) {
        const Span s = vals[child.slot];
        json.append(values, s.offset, s.len);
      } else if (child.array >= 0) {
        const auto a = static_cast<std::size_t>(child.array);
        json += '[';
        for (std::size_t e = 0; e < element_counts[a]; ++e) {
          if (e > 0) json += ',';
          json += '{';
          write_members(child, elements[a].data() + e * static_cast<std::size_t>(slots), slots, json, true);
          json += '}';
        }
        json += ']';
      } else {
        json += '{';
        write_members(child, vals, slots, json, true);
        json += '}';
      }
    }
  }

  std::string record_json(const BoundPart& part, const Span* vals) const {
    std::string json;
    json.reserve(type_json.size() + values.size() + 64);
    json += type_json;
    write_members(part.shape.root, vals, part.shape.slots, json, false);
    json += '}';
    return json;
  }

  const Field* id_field(const BoundPart& part, int& column) const {
    for (std::size_t i = 0; i < part.fields.size(); ++i)
      if (part.fields[i].slot == part.shape.id_slot && part.fields[i].array < 0) {
        column = part.columns[i];
        return &part.fields[i];
      }
    return nullptr;
  }

  void add_row(const CsvRow& r) {
    ++rows;
    end_offset = r.end_offset;
    if (bad) return;  // the group is lost already: its rows are only read past
    const auto& limits = options.limits;
    if (rows > limits.max_group_rows) {
      set_bad(r.line, key_name(), "more than " + std::to_string(limits.max_group_rows) + " rows share this " + key_name());
      return;
    }
    const bool first = rows == 1;
    if (first && each_row) {
      first_text.clear();
      first_cells.clear();
      for (auto cell : r.fields) {
        first_cells.push_back({static_cast<std::uint32_t>(first_text.size()), static_cast<std::uint32_t>(cell.size())});
        first_text.append(cell);
      }
      first_views.clear();
      for (const auto& c : first_cells) first_views.emplace_back(first_text.data() + c.offset, c.len);
    }
    bool any = false;
    if (first || options_fill())
      if (!evaluate(record, -1, r.fields, r.line, main.data(), !first, table->compiled().group_fill, any)) return;
    for (int a = 0; a < record.shape.arrays; ++a) {
      auto& items = elements[static_cast<std::size_t>(a)];
      auto& count = element_counts[static_cast<std::size_t>(a)];
      const auto slots = static_cast<std::size_t>(record.shape.slots);
      if (items.size() < (count + 1) * slots) items.resize((count + 1) * slots);
      Span* target = items.data() + count * slots;
      std::fill(target, target + slots, Span{});
      bool element_any = false;
      if (!evaluate(record, a, r.fields, r.line, target, false, false, element_any)) return;
      for (const Field& f : record.fields)
        if (f.array == a && f.drop_item_if_empty && target[f.slot].len == 0) element_any = false;
      if (element_any) ++count;
    }
    if (each_row && when_column >= 0 && !text::trim(r.fields[static_cast<std::size_t>(when_column)]).empty()) {
      row_values.assign(static_cast<std::size_t>(each_row->shape.slots), Span{});
      bool row_any = false;
      if (!evaluate(*each_row, -1, r.fields, r.line, row_values.data(), false, false, row_any)) return;
      if (row_values[static_cast<std::size_t>(each_row->shape.id_slot)].len == 0) {
        int column = -1;
        const Field* f = id_field(*each_row, column);
        set_bad(r.line, f ? column_name(column, *f) : "id", "is empty: every record needs an id");
        return;
      }
      row_records.push_back(record_json(*each_row, row_values.data()));
      row_record_bytes += row_records.back().size();
    }
    if (values.size() + row_record_bytes > limits.max_group_bytes)
      set_bad(r.line, key_name(),
              "the rows from line " + std::to_string(first_line) + " make records over " +
                  std::to_string(limits.max_group_bytes) + " bytes");
  }

  bool options_fill() const { return table->compiled().group_fill; }
  std::string key_name() const {
    return group_column >= 0 ? header[static_cast<std::size_t>(group_column)] : std::string("row");
  }

  void begin_group(const CsvRow& r, std::string_view group_key) {
    open = true;
    key.assign(group_key);
    first_line = r.line;
    start_offset = last_end;
    rows = 0;
    bad.reset();
    values.clear();
    main.assign(static_cast<std::size_t>(record.shape.slots), Span{});
    element_counts.assign(static_cast<std::size_t>(record.shape.arrays), 0);
    elements.resize(static_cast<std::size_t>(record.shape.arrays));
    row_records.clear();
    row_record_bytes = 0;
  }

  void close_group() {
    open = false;
    if (!bad) {
      if (options_fill()) {
        for (std::size_t i = 0; i < record.fields.size(); ++i) {
          const Field& f = record.fields[i];
          if (f.required && f.array < 0 && record.columns[i] >= 0 && main[static_cast<std::size_t>(f.slot)].len == 0) {
            set_bad(first_line, column_name(record.columns[i], f), "is empty in every row, and the table requires it");
            break;
          }
        }
      }
      if (!bad && main[static_cast<std::size_t>(record.shape.id_slot)].len == 0) {
        int column = -1;
        const Field* f = id_field(record, column);
        set_bad(first_line, f ? column_name(column, *f) : "id", "is empty: every record needs an id");
      }
    }
    std::string group_record;
    if (!bad) {
      group_record = record_json(record, main.data());
      // Every record made here must be one Ometria takes, as every JSON Lines record must (import::check_record):
      // a product group whose first row has no Title would otherwise be queued, and the push refuse it.
      if (passes_record_check(group_record, record))
        for (const auto& r : row_records)
          if (!passes_record_check(r, *each_row)) break;
    }
    if (bad) {
      bad->at.end_offset = end_offset;
      out.emplace_back(std::move(*bad));
      bad.reset();
      row_records.clear();
      return;
    }
    const ometria::RecordType type = table->type();
    out.emplace_back(RecordItem{SourcePlace{file, first_line, row_records.empty() ? end_offset : start_offset}, type,
                                std::move(group_record)});
    for (std::size_t i = 0; i < row_records.size(); ++i)
      out.emplace_back(RecordItem{SourcePlace{file, first_line, i + 1 == row_records.size() ? end_offset : start_offset},
                                  type, std::move(row_records[i])});
    row_records.clear();
  }

  // false (and the group bad, naming the column that feeds the field at fault) when check_record refuses it.
  bool passes_record_check(const std::string& json, const BoundPart& part) {
    auto checked = check_record(json);
    if (checked) return true;
    std::string field = checked.error().path;
    for (std::size_t i = 0; i < part.fields.size(); ++i)
      if (part.fields[i].to == field && part.fields[i].array < 0) {
        field = column_name(part.columns[i], part.fields[i]);
        break;
      }
    set_bad(first_line, field.empty() ? "record" : field, checked.error().message);
    return false;
  }

  void flush_malformed() {
    for (auto& m : malformed) out.emplace_back(std::move(m));
    malformed.clear();
  }

  // A malformed row inside an open group: the group goes on only if the next good row has its key, and then
  // the whole group is lost (never a record with some of its rows).
  BadRow malformed_row(const CsvRow& r) const {
    std::string field;
    if (r.problem_field != CsvRow::no_field && r.problem_field < header.size()) field = header[r.problem_field];
    return BadRow{SourcePlace{file, r.line, r.end_offset}, field, r.problem};
  }

  Expected<std::optional<Item>> next() {
    while (true) {
      if (!out.empty()) {
        Item item = std::move(out.front());
        out.pop_front();
        return item;
      }
      if (!row_ready && !eof) {
        auto got = tokenizer.next();
        if (!got) return tl::unexpected(got.error());
        row = *got;
        if (row == nullptr) eof = true;
        else row_ready = true;
      }
      if (eof) {
        if (open) {
          close_group();
          flush_malformed();
          continue;
        }
        flush_malformed();
        if (!out.empty()) continue;
        return std::nullopt;
      }
      const CsvRow& r = *row;
      if (r.end_offset <= options.resume_after) {
        row_ready = false;
        last_end = r.end_offset;
        continue;
      }
      CsvRow ragged;
      const CsvRow* problem = nullptr;
      if (!r.problem.empty()) {
        problem = &r;
      } else if (r.fields.size() != header.size()) {
        ragged.line = r.line;
        ragged.end_offset = r.end_offset;
        ragged.problem = "the row has " + std::to_string(r.fields.size()) + " fields, the header " +
                         std::to_string(header.size());
        problem = &ragged;
      }
      if (problem != nullptr) {
        row_ready = false;
        last_end = r.end_offset;
        if (open && group_column >= 0) {
          malformed.push_back(malformed_row(*problem));
          if (malformed.size() >= 100) {  // bounded: the group ends before them
            close_group();
            flush_malformed();
          }
        } else {
          out.emplace_back(malformed_row(*problem));
        }
        continue;
      }
      const std::string_view row_key =
          group_column >= 0 ? text::trim(r.fields[static_cast<std::size_t>(group_column)]) : std::string_view{};
      if (open) {
        if (row_key.empty() || row_key != key) {
          close_group();
          flush_malformed();
          continue;  // the row waits: what the group made goes out first
        }
        if (!malformed.empty()) {
          const BadRow& m = malformed.front();
          const std::string more =
              malformed.size() > 1 ? " and " + std::to_string(malformed.size() - 1) + " more malformed rows" : "";
          set_bad(m.at.line, m.field,
                  m.reason + more + " (the rows of " + key_name() + " \"" + key + "\" from line " +
                      std::to_string(first_line) + " are left out)");
          malformed.clear();
        }
      } else {
        begin_group(r, row_key);
      }
      add_row(r);
      row_ready = false;
      last_end = r.end_offset;
      if (group_column < 0 || row_key.empty()) close_group();
    }
  }
};

CsvReader::CsvReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CsvReader::~CsvReader() = default;

Expected<std::unique_ptr<CsvReader>> CsvReader::open(std::string file, std::unique_ptr<ByteSource> bytes,
                                                     const CsvTableChoice& choice, CsvReaderOptions options) {
  auto impl = std::make_unique<Impl>(std::move(file), std::move(bytes), options);
  Impl& s = *impl;
  auto first = s.tokenizer.next();
  if (!first) return tl::unexpected(first.error());
  if (*first == nullptr) {  // empty: nothing to read, whatever the table
    s.eof = true;
    return std::unique_ptr<CsvReader>(new CsvReader(std::move(impl)));
  }
  const CsvRow& head = **first;
  if (!head.problem.empty())
    return fail(errc::invalid_config, s.file + ":" + std::to_string(head.line) + ": the header row: " + head.problem, s.file);
  for (auto name : head.fields) s.header.emplace_back(text::trim(name));
  s.last_end = head.end_offset;

  if (choice.table) {
    s.table = *choice.table;
  } else if (choice.detect_among != nullptr) {
    auto detected = choice.detect_among->detect(choice.type, s.header);
    if (!detected) return fail(errc::invalid_config, s.file + ": " + detected.error().message, s.file);
    s.table = std::move(*detected);
  } else {
    return fail(errc::invalid_config, s.file + ": no csv table given and none to detect among", s.file);
  }
  const CsvTable& table = *s.table;
  if (table.type() != choice.type)
    return fail(errc::invalid_config,
                s.file + ": csv table " + table.name() + " makes " + std::string(ometria::to_string(table.type())) +
                    " records, not " + std::string(ometria::to_string(choice.type)),
                s.file);
  const csv::CompiledTable& compiled = table.compiled();
  auto record = bind_to_header(compiled.record, s.header, s.file, compiled.file, true);
  if (!record) return tl::unexpected(record.error());
  s.record = std::move(*record);
  if (!compiled.group_columns.empty()) {
    s.group_column = column_of(s.header, compiled.group_columns);
    if (s.group_column < 0)
      return fail(errc::invalid_config,
                  s.file + ": the header has no column " + quoted_list(compiled.group_columns) + ", which " +
                      compiled.file + " groupBy requires",
                  s.file);
  }
  if (compiled.each_row) {
    s.when_column = column_of(s.header, compiled.each_row_when);
    if (s.when_column >= 0) {
      auto rows = bind_to_header(*compiled.each_row, s.header, s.file, compiled.file, true);
      if (!rows) return tl::unexpected(rows.error());
      s.each_row = std::move(*rows);
    }
  }
  s.type_json = "{\"@type\":\"" + std::string(ometria::to_string(table.type())) + "\"";
  return std::unique_ptr<CsvReader>(new CsvReader(std::move(impl)));
}

Expected<std::optional<Item>> CsvReader::next() { return impl_->next(); }
std::uint64_t CsvReader::bytes_read() const { return impl_->bytes->bytes_read(); }
const CsvTable* CsvReader::table() const { return impl_->table ? &*impl_->table : nullptr; }

}  // namespace omt::import
