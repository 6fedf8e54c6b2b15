#include "omt/import/csv_table.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "import/csv_table_internal.hpp"
#include "json/out_value.hpp"

namespace omt::import {
namespace csv {
namespace {
using njson = nlohmann::json;
constexpr std::size_t max_depth = 8;

Error table_error(const std::string& file, const std::string& where, const std::string& what) {
  return Error{errc::invalid_config, "csv table error in " + file + (where.empty() ? "" : " " + where) + ": " + what,
               file};
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

Expected<std::vector<std::string>> strings(const njson& j, const std::string& file, const std::string& where,
                                           const std::string& key, bool allow_single) {
  std::vector<std::string> out;
  if (allow_single && j.is_string()) {
    out.push_back(j.get<std::string>());
  } else if (j.is_array() && !j.empty()) {
    for (const auto& item : j) {
      if (!item.is_string()) return tl::unexpected(table_error(file, where, "\"" + key + "\" must hold strings"));
      out.push_back(item.get<std::string>());
    }
  } else {
    return tl::unexpected(table_error(
        file, where, "\"" + key + "\" must be " + (allow_single ? "a string or " : "") + "a non-empty list of strings"));
  }
  for (const auto& s : out)
    if (s.empty()) return tl::unexpected(table_error(file, where, "\"" + key + "\" may not hold an empty string"));
  return out;
}

Expected<Read> read_kind(const njson& j, const std::string& file, const std::string& where) {
  static const std::pair<const char*, Read> kinds[] = {
      {"string", Read::string}, {"number", Read::number},     {"integer", Read::integer},
      {"boolean", Read::boolean}, {"timestamp", Read::timestamp}, {"date", Read::date},
      {"money", Read::money},   {"currency", Read::currency}, {"phone", Read::phone}};
  if (j.is_string())
    for (const auto& [name, kind] : kinds)
      if (j.get<std::string>() == name) return kind;
  return tl::unexpected(table_error(
      file, where,
      "\"read\" must be one of string, number, integer, boolean, timestamp, date, money, currency, phone; got " + j.dump()));
}

Expected<Field> compile_field(const njson& j, const std::string& file, const std::string& where, bool in_each_row) {
  static const std::unordered_set<std::string> known = {
      "column", "columnsStartingWith", "to", "read", "prefix", "true", "false", "formats", "timezone",
      "map", "unmapped", "required", "onInvalid", "const", "firstRow", "dropItemIfEmpty", "dropPrefix", "comment"};
  if (!j.is_object()) return tl::unexpected(table_error(file, where, "a field must be an object"));
  Field f;
  f.where = where;
  if (j.contains("to") && j["to"].is_string()) f.where += " (to \"" + j["to"].get<std::string>() + "\")";
  const std::string& at = f.where;
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) return tl::unexpected(table_error(file, at, "unknown key \"" + key + "\""));
  if (!j.contains("to") || !j["to"].is_string() || j["to"].get<std::string>().empty())
    return tl::unexpected(table_error(file, at, "\"to\" (the record field) must be a non-empty string"));
  f.to = j["to"].get<std::string>();

  const bool has_column = j.contains("column"), has_prefix = j.contains("columnsStartingWith");
  f.has_const = j.contains("const");
  if (has_column && has_prefix)
    return tl::unexpected(table_error(file, at, "\"column\" and \"columnsStartingWith\" exclude each other"));
  if (!has_column && !has_prefix && !f.has_const)
    return tl::unexpected(table_error(file, at, "a field needs \"column\", \"columnsStartingWith\" or \"const\""));
  if (has_column) {
    auto columns = strings(j["column"], file, at, "column", true);
    if (!columns) return tl::unexpected(columns.error());
    f.columns = std::move(*columns);
  }
  if (has_prefix) {
    if (!j["columnsStartingWith"].is_string() || j["columnsStartingWith"].get<std::string>().empty())
      return tl::unexpected(table_error(file, at, "\"columnsStartingWith\" must be a non-empty string"));
    f.columns_starting_with = j["columnsStartingWith"].get<std::string>();
    if (f.has_const) return tl::unexpected(table_error(file, at, "\"columnsStartingWith\" cannot have a \"const\""));
    if (f.to.find("[]") != std::string::npos)
      return tl::unexpected(table_error(file, at, "\"columnsStartingWith\" fills an object, not array items"));
  }
  if (f.has_const) {
    if (j.contains("read"))
      return tl::unexpected(table_error(file, at, "a \"const\" is written as it is: \"read\" does not apply"));
    if (j["const"].is_object() || j["const"].is_array() || j["const"].is_null())
      return tl::unexpected(table_error(file, at, "\"const\" must be a string, number or boolean"));
    if (j["const"].is_number()) {
      std::string number;
      json::write_number(number, j["const"].get<double>());
      f.const_json = number;
    } else {
      f.const_json = j["const"].dump();
    }
  }
  if (j.contains("read")) {
    auto kind = read_kind(j["read"], file, at);
    if (!kind) return tl::unexpected(kind.error());
    f.value.read = *kind;
  }
  const Read kind = f.value.read;
  auto only_with = [&](const char* key, bool allowed, const char* what) -> Expected<void> {
    if (j.contains(key) && !allowed)
      return tl::unexpected(table_error(file, at, std::string("\"") + key + "\" applies only " + what));
    return {};
  };
  for (auto check : {only_with("prefix", kind == Read::string && !f.has_const, "to \"read\": \"string\""),
                     only_with("true", kind == Read::boolean, "to \"read\": \"boolean\""),
                     only_with("false", kind == Read::boolean, "to \"read\": \"boolean\""),
                     only_with("formats", kind == Read::timestamp || kind == Read::date,
                               "to \"read\": \"timestamp\" or \"date\""),
                     only_with("timezone", kind == Read::timestamp, "to \"read\": \"timestamp\""),
                     only_with("map", kind == Read::string && !f.has_const, "to \"read\": \"string\""),
                     only_with("unmapped", j.contains("map"), "with \"map\""),
                     only_with("firstRow", in_each_row, "in eachRow.fields")})
    if (!check) return tl::unexpected(check.error());

  if (j.contains("dropPrefix")) {
    if (!j["dropPrefix"].is_string() || j["dropPrefix"].get<std::string>().empty() || f.has_const)
      return tl::unexpected(table_error(file, at, "\"dropPrefix\" must be a non-empty string, on a field with a column"));
    f.value.drop_prefix = j["dropPrefix"].get<std::string>();
  }
  if (j.contains("prefix")) {
    if (!j["prefix"].is_string()) return tl::unexpected(table_error(file, at, "\"prefix\" must be a string"));
    f.value.prefix = j["prefix"].get<std::string>();
  }
  if (kind == Read::boolean) {
    auto words = [&](const char* key, std::vector<std::string> fallback) -> Expected<std::vector<std::string>> {
      if (!j.contains(key)) return fallback;
      auto list = strings(j[key], file, at, key, false);
      if (!list) return list;
      for (auto& w : *list) w = lower(w);
      return list;
    };
    auto yes = words("true", {"true", "yes", "1"});
    auto no = words("false", {"false", "no", "0"});
    if (!yes) return tl::unexpected(yes.error());
    if (!no) return tl::unexpected(no.error());
    for (const auto& w : *yes)
      if (std::find(no->begin(), no->end(), w) != no->end())
        return tl::unexpected(table_error(file, at, "\"" + w + "\" is both a true and a false word"));
    f.value.true_words = std::move(*yes);
    f.value.false_words = std::move(*no);
  }
  if (kind == Read::timestamp || kind == Read::date) {
    if (!j.contains("formats"))
      return tl::unexpected(table_error(file, at, "\"formats\" (patterns such as \"%Y-%m-%d %H:%M:%S %z\") is required"));
    auto formats = strings(j["formats"], file, at, "formats", true);
    if (!formats) return tl::unexpected(formats.error());
    for (const auto& pattern : *formats)
      if (auto problem = check_time_format(pattern); !problem.empty())
        return tl::unexpected(table_error(file, at, "format \"" + pattern + "\": " + problem));
    f.value.formats = std::move(*formats);
  }
  if (j.contains("timezone")) {
    if (!j["timezone"].is_string() || !parse_zone(j["timezone"].get<std::string>(), f.value.assumed_offset_minutes))
      return tl::unexpected(table_error(
          file, at, "\"timezone\" must be \"UTC\" or a fixed offset such as \"+01:00\" (zone names are not supported)"));
  }
  if (j.contains("map")) {
    if (!j["map"].is_object() || j["map"].empty())
      return tl::unexpected(table_error(file, at, "\"map\" must be an object: {\"output\": [\"input\", ...]}"));
    std::unordered_set<std::string> seen;
    for (const auto& [output, inputs] : j["map"].items()) {
      auto list = strings(inputs, file, at, "map." + output, false);
      if (!list) return tl::unexpected(list.error());
      for (auto& w : *list) {
        w = lower(w);
        if (!seen.insert(w).second)
          return tl::unexpected(table_error(file, at, "\"map\" lists the input \"" + w + "\" twice"));
      }
      f.value.map.emplace_back(output, std::move(*list));
    }
  }
  if (j.contains("unmapped")) {
    const auto& u = j["unmapped"];
    if (u == "fail") f.value.unmapped = Unmapped::fail;
    else if (u == "keep") f.value.unmapped = Unmapped::keep;
    else if (u == "skip") f.value.unmapped = Unmapped::skip;
    else return tl::unexpected(table_error(file, at, "\"unmapped\" must be \"fail\", \"keep\" or \"skip\""));
  }
  auto boolean = [&](const char* key, bool& target) -> Expected<void> {
    if (!j.contains(key)) return {};
    if (!j[key].is_boolean()) return tl::unexpected(table_error(file, at, std::string("\"") + key + "\" must be true or false"));
    target = j[key].get<bool>();
    return {};
  };
  if (auto r = boolean("required", f.required); !r) return tl::unexpected(r.error());
  if (auto r = boolean("firstRow", f.first_row); !r) return tl::unexpected(r.error());
  if (auto r = boolean("dropItemIfEmpty", f.drop_item_if_empty); !r) return tl::unexpected(r.error());
  if (f.drop_item_if_empty && f.to.find("[]") == std::string::npos)
    return tl::unexpected(table_error(file, at, "\"dropItemIfEmpty\" applies only to a field of array items (\"a[].b\")"));
  if (f.required && f.columns.empty())
    return tl::unexpected(table_error(file, at, "\"required\" needs a \"column\""));
  if (j.contains("onInvalid")) {
    if (j["onInvalid"] == "skip") f.skip_invalid = true;
    else if (j["onInvalid"] != "fail")
      return tl::unexpected(table_error(file, at, "\"onInvalid\" must be \"fail\" (the row is bad) or \"skip\" (the field is left out)"));
  }
  return f;
}

Expected<std::vector<Field>> compile_fields(const njson& j, const std::string& file, const std::string& where,
                                            bool in_each_row) {
  if (!j.is_array() || j.empty())
    return tl::unexpected(table_error(file, where, "must be a non-empty list of fields"));
  std::vector<Field> fields;
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto f = compile_field(j[i], file, where + "[" + std::to_string(i) + "]", in_each_row);
    if (!f) return tl::unexpected(f.error());
    fields.push_back(std::move(*f));
  }
  return fields;
}

Expected<void> unknown_keys(const njson& j, const std::unordered_set<std::string>& known, const std::string& file,
                            const std::string& where) {
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) return tl::unexpected(table_error(file, where, "unknown key \"" + key + "\""));
  return {};
}

}  // namespace

Expected<Shape> build_shape(std::vector<Field>& fields, const std::string& where) {
  Shape shape;
  for (auto& f : fields) {
    const std::string& to = f.to;
    Node* node = &shape.root;
    int array = -1;
    std::size_t start = 0, depth = 0;
    auto bad = [&](const std::string& what) {
      return tl::unexpected(Error{errc::invalid_config, where + " " + f.where + ": " + what, where});
    };
    if (to == "@type") return bad("\"@type\" is the table's \"type\"");
    while (true) {
      const auto dot = to.find('.', start);
      std::string segment = to.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const bool last = dot == std::string::npos;
      const bool is_array = segment.size() > 2 && segment.compare(segment.size() - 2, 2, "[]") == 0;
      if (is_array) segment.resize(segment.size() - 2);
      if (segment.empty() || segment.find_first_of("[]") != std::string::npos)
        return bad("bad field path \"" + to + "\"");
      if (++depth > max_depth) return bad("field path \"" + to + "\" is too deep");
      if (is_array && (last || array >= 0))
        return bad("in \"" + to + "\" only one [] may appear, and not at the end (an array holds objects)");
      auto it = std::find_if(node->children.begin(), node->children.end(),
                             [&](const Node& n) { return n.key == segment; });
      if (it == node->children.end()) {
        Node child;
        child.key = segment;
        json::write_string(child.key_json, segment);
        child.key_json += ':';
        if (is_array) child.array = shape.arrays++;
        if (last) child.slot = shape.slots++;
        node->children.push_back(std::move(child));
        it = node->children.end() - 1;
      } else {
        const bool was_leaf = it->slot >= 0, was_array = it->array >= 0;
        if (was_leaf != last || was_array != is_array)
          return bad("\"" + to + "\" conflicts with another field's path through \"" + segment + "\"");
      }
      if (is_array) array = it->array;
      node = &*it;
      if (last) break;
      start = dot + 1;
    }
    f.slot = node->slot;
    f.array = array;
  }
  auto id = std::find_if(shape.root.children.begin(), shape.root.children.end(),
                         [](const Node& n) { return n.key == "id" && n.slot >= 0; });
  if (id == shape.root.children.end())
    return tl::unexpected(Error{errc::invalid_config, where + ": no field has \"to\": \"id\" (every record needs an id)", where});
  shape.id_slot = id->slot;
  std::rotate(shape.root.children.begin(), id, id + 1);
  return shape;
}

}  // namespace csv

using csv::njson;

const std::string& CsvTable::name() const { return table_->name; }
const std::string& CsvTable::file() const { return table_->file; }
ometria::RecordType CsvTable::type() const { return table_->type; }
const std::vector<std::string>& CsvTable::detect() const { return table_->detect; }

Expected<CsvTable> parse_csv_table(std::string_view json_text, const std::string& file) {
  njson j;
  try {
    j = njson::parse(json_text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const njson::exception& e) {  // parse_error, or out_of_range for a number past a double's range
    return fail(errc::invalid_config, "csv table " + file + " is not valid JSON: " + e.what(), file);
  }
  if (!j.is_object()) return tl::unexpected(csv::table_error(file, "", "a table must be a JSON object"));
  if (auto r = csv::unknown_keys(j, {"description", "source", "unverified", "comment", "type", "detect", "groupBy",
                                     "fields", "eachRow"},
                                 file, "");
      !r)
    return tl::unexpected(r.error());

  auto table = std::make_shared<csv::CompiledTable>();
  table->file = file;
  table->name = std::filesystem::path(file).stem().string();
  const auto type = j.contains("type") && j["type"].is_string()
                        ? ometria::record_type_from(j["type"].get<std::string>())
                        : std::nullopt;
  if (!type || *type == ometria::RecordType::custom_event)
    return tl::unexpected(csv::table_error(file, "type", "must be \"contact\", \"order\" or \"product\""));
  table->type = *type;
  if (j.contains("detect")) {
    auto detect = csv::strings(j["detect"], file, "detect", "detect", false);
    if (!detect) return tl::unexpected(detect.error());
    table->detect = std::move(*detect);
  }
  if (j.contains("groupBy")) {
    const auto& g = j["groupBy"];
    if (!g.is_object()) return tl::unexpected(csv::table_error(file, "groupBy", "must be an object"));
    if (auto r = csv::unknown_keys(g, {"column", "otherRows", "comment"}, file, "groupBy"); !r)
      return tl::unexpected(r.error());
    if (!g.contains("column")) return tl::unexpected(csv::table_error(file, "groupBy", "\"column\" is required"));
    auto columns = csv::strings(g["column"], file, "groupBy", "column", true);
    if (!columns) return tl::unexpected(columns.error());
    table->group_columns = std::move(*columns);
    if (g.contains("otherRows")) {
      if (g["otherRows"] == "fill") table->group_fill = true;
      else if (g["otherRows"] != "ignore")
        return tl::unexpected(csv::table_error(file, "groupBy", "\"otherRows\" must be \"ignore\" or \"fill\""));
    }
  }
  if (!j.contains("fields")) return tl::unexpected(csv::table_error(file, "", "\"fields\" is required"));
  auto fields = csv::compile_fields(j["fields"], file, "fields", false);
  if (!fields) return tl::unexpected(fields.error());
  table->record.fields = std::move(*fields);
  auto shape = csv::build_shape(table->record.fields, "csv table error in " + file);
  if (!shape) return tl::unexpected(shape.error());
  table->record.shape = std::move(*shape);

  if (j.contains("eachRow")) {
    const auto& e = j["eachRow"];
    if (!e.is_object()) return tl::unexpected(csv::table_error(file, "eachRow", "must be an object"));
    if (auto r = csv::unknown_keys(e, {"when", "fields", "comment"}, file, "eachRow"); !r)
      return tl::unexpected(r.error());
    if (!e.contains("when") || !e.contains("fields"))
      return tl::unexpected(csv::table_error(file, "eachRow", "\"when\" (a column) and \"fields\" are required"));
    auto when = csv::strings(e["when"], file, "eachRow", "when", true);
    if (!when) return tl::unexpected(when.error());
    table->each_row_when = std::move(*when);
    auto row_fields = csv::compile_fields(e["fields"], file, "eachRow.fields", true);
    if (!row_fields) return tl::unexpected(row_fields.error());
    csv::Part part;
    part.fields = std::move(*row_fields);
    auto row_shape = csv::build_shape(part.fields, "csv table error in " + file + " eachRow");
    if (!row_shape) return tl::unexpected(row_shape.error());
    if (row_shape->arrays > 0)
      return tl::unexpected(csv::table_error(file, "eachRow", "a record of one row has no [] fields"));
    part.shape = std::move(*row_shape);
    table->each_row = std::move(part);
  }
  return CsvTable(std::move(table));
}

Expected<CsvTable> load_csv_table(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(errc::invalid_config, "cannot read csv table " + path.string(), path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_csv_table(text.str(), path.filename().string());
}

Expected<CsvTables> CsvTables::load(const std::filesystem::path& dir) {
  CsvTables set;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  if (ec) return fail(errc::invalid_config, "cannot list csv tables in " + dir.string() + ": " + ec.message(), dir.string());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto table = load_csv_table(file);
    if (!table) return tl::unexpected(table.error());
    set.tables_.push_back(std::move(*table));
  }
  return set;
}

std::vector<std::string> CsvTables::names() const {
  std::vector<std::string> names;
  for (const auto& t : tables_) names.push_back(t.name());
  return names;
}

const CsvTable* CsvTables::find(std::string_view name) const {
  for (const auto& t : tables_)
    if (t.name() == name) return &t;
  return nullptr;
}

namespace {
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}
}  // namespace

Expected<CsvTable> CsvTables::resolve(std::string_view name_or_file) const {
  const std::string arg(name_or_file);
  if (arg.find('/') != std::string::npos || std::filesystem::path(arg).extension() == ".json") return load_csv_table(arg);
  if (const CsvTable* t = find(arg)) return *t;
  return fail(errc::invalid_config, "unknown csv table \"" + arg + "\" (shipped: " + joined(names()) +
                                        "; a file of your own is given by its path)");
}

Expected<CsvTable> CsvTables::detect(ometria::RecordType type, const std::vector<std::string>& header) const {
  std::vector<const CsvTable*> fits;
  std::vector<std::string> candidates;
  for (const auto& t : tables_) {
    if (t.type() != type || t.detect().empty()) continue;
    candidates.push_back(t.name());
    if (std::all_of(t.detect().begin(), t.detect().end(), [&](const std::string& column) {
          return std::find(header.begin(), header.end(), column) != header.end();
        }))
      fits.push_back(&t);
  }
  if (fits.size() == 1) return *fits.front();
  const std::string kind(ometria::to_string(type));
  if (fits.empty())
    return fail(errc::invalid_config, "the header fits no " + kind + " table (" + joined(candidates) +
                                          "): name one with --csv-table NAME|FILE");
  std::vector<std::string> names;
  for (const auto* t : fits) names.push_back(t->name());
  return fail(errc::invalid_config, "the header fits several " + kind + " tables (" + joined(names) +
                                        "): name one with --csv-table NAME|FILE");
}

}  // namespace omt::import
