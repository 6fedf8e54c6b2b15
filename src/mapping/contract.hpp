// Internal: what code built on the tables relies on them to produce. A TableContract names one rule list
// (file and list) and the output keys that code reads back by name; the loader refuses tables that lack one
// (check_contract), so renaming such a field is a start-up error rather than records that quietly go missing.
// Code reads those keys through required_key(), which does not compile for a key its contract does not declare.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "mapping/table.hpp"
#include "omt/error.hpp"

namespace omt::mapping {

struct RequiredKey {
  std::string_view key;  // a rule's "to"
  std::string_view why;  // what the code does with it, for the error message and the README
};

struct TableContract {
  std::string_view file;  // "lineitems.json"
  std::string_view list;  // "fields", or order.json's "customer"
  std::span<const RequiredKey> keys;
};

// The key as declared in `table`; a key the contract does not declare is a compile error (this is only ever
// evaluated at compile time, and the throw makes that evaluation fail).
consteval std::string_view required_key(const TableContract& table, std::string_view key) {
  for (const auto& required : table.keys)
    if (required.key == key) return required.key;
  throw "required_key: the key is not declared in this table's contract";
}

// The first key of `contracts` that no rule of its list maps to, as "mapping error in <file> <list>: ..." naming
// the key and why the code needs it; nullopt when every table holds its contract.
std::optional<Error> check_contract(const TableSet& tables, std::span<const TableContract> contracts);

}  // namespace omt::mapping
