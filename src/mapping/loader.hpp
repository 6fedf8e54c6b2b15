// Internal: reading mappings/*.json into a TableSet (mapping/table.hpp), once, at start-up. Every file is
// checked whole: unknown keys, bad paths, unknown validators, JSON syntax (with line and column) and the
// code's contract (mapping/contract.hpp) are errors "mapping error in <file> <rule>: ..." naming the file and
// the rule by its index and its "to". Never throws; paths are split and their parents interned here, once.
#pragma once

#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "mapping/contract.hpp"
#include "mapping/table.hpp"
#include "omt/error.hpp"

namespace omt::mapping {

// generic.json and the tables from a directory (each file at most 1 MiB), checked against `contracts`.
Expected<TableSet> load_tables(const std::filesystem::path& dir, std::span<const TableContract> contracts);

// The same from any source of file texts (tests and fuzzing): read("contact.json") -> its text.
using FileReader = std::function<Expected<std::string>(const std::string& name)>;
Expected<TableSet> parse_tables(const FileReader& read, std::span<const TableContract> contracts);

// "mapping error in <where>: <what>" with `where` as the Error's path: the form of every error above.
Error load_error(const std::string& where, const std::string& what);

// The pieces parse_tables is made of, for fuzzing one file at a time.
Expected<GenericLookups> parse_generic_file(const Expected<std::string>& text);
// name is one of contact.json, custom_event.json, order.json, lineitems.json, variant.json, product.json (it sets
// the shape).
Expected<MappingFile> parse_mapping_file(const std::string& name, const std::string& text, const GenericLookups& generic);

// One source path ("properties.order_id") and one rule, as the files above write them; `where` names them in errors.
Expected<SourcePath> compile_path(const nlohmann::json& path, const std::string& where);
Expected<Rule> compile_rule(const nlohmann::json& rule, const std::string& where, const GenericLookups& generic);

}  // namespace omt::mapping
