// Internal: a CSV table as loaded (csv_table.cpp) and as the reader binds it to one file's header
// (csv_reader.cpp). Output shape: a tree of the record's keys, each leaf a slot that the fields fill.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "import/csv_values.hpp"
#include "omt/error.hpp"
#include "omt/ometria/transformer.hpp"

namespace omt::import::csv {

struct Field {
  std::string where;                 // "fields[3]" / "eachRow.fields[1]", for messages
  std::vector<std::string> columns;  // alternatives: the first one in the header is read
  std::string columns_starting_with; // instead: every column with this prefix, as a key of the object `to`
  std::string to;                    // the record field: "customer.email", "lineitems[].quantity"
  std::string const_json;            // "const": written as is (with a column: only when its cell is not empty)
  bool has_const = false;
  bool required = false;
  bool skip_invalid = false;  // "onInvalid": "skip"
  bool first_row = false;     // eachRow: read from the group's first row
  bool drop_item_if_empty = false;  // a [] field: an item without its value is left out (not a bad row)
  ValueSpec value;
  // Set by build_shape:
  int slot = -1;
  int array = -1;  // -1: the record itself; else the array whose elements it fills
};

struct Node {
  std::string key_json;  // "\"customer\":"
  std::string key;
  int slot = -1;   // a leaf
  int array = -1;  // an array of objects (lineitems[]): its index
  std::vector<Node> children;
};

struct Shape {
  Node root;
  int slots = 0;
  int arrays = 0;
  int id_slot = -1;
};

// Slots for the fields' `to` paths (fields with one path share a slot), "id" first after "@type".
// `where` prefixes errors ("csv table error in x.json").
Expected<Shape> build_shape(std::vector<Field>& fields, const std::string& where);

struct Part {
  std::vector<Field> fields;
  Shape shape;
};

struct CompiledTable {
  std::string name, file;
  ometria::RecordType type = ometria::RecordType::contact;
  std::vector<std::string> detect;
  std::vector<std::string> group_columns;  // groupBy.column (alternatives); empty: one record a row
  bool group_fill = false;                 // groupBy.otherRows "fill": later rows fill what the first left empty
  Part record;
  std::optional<Part> each_row;            // a record of its own from each row of a group
  std::vector<std::string> each_row_when;  // ... whose cell in this column is not empty
};

}  // namespace omt::import::csv
