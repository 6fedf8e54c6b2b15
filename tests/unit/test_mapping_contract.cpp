// The mapping contract: the output keys the Ometria mappers read back are checked when the tables load, so a
// mapping file that renames or removes one fails start-up naming the file, the rule list and the key.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "mapping/contract.hpp"
#include "mapping/loader.hpp"
#include "mapping_dir.hpp"
#include "ometria/output_contract.hpp"

namespace {
namespace contract = omt::ometria::contract;
using omt::mapping::required_key;
using omt::test::MappingDir;

// required_key() is the only way transformer.cpp names these keys; an undeclared key would not compile.
static_assert(required_key(contract::lineitems, "unit_price") == "unit_price");
static_assert(required_key(contract::order_customer, "email") == "email");

omt::Expected<omt::mapping::TableSet> load(const MappingDir& dir) {
  return omt::mapping::load_tables(dir.path(), contract::all);
}

TEST(MappingContract, ProjectTablesHoldTheirContract) {
  auto tables = omt::mapping::load_tables(omt::test::project_mappings_dir(), contract::all);
  ASSERT_TRUE(tables) << tables.error().message;
  EXPECT_FALSE(omt::mapping::check_contract(*tables, contract::all));
}

TEST(MappingContract, RenamingUnitPriceIsAStartUpError) {
  MappingDir dir;
  dir.replace("lineitems.json", R"({"to": "unit_price", "from": "unit_price"})",
              R"({"to": "price", "from": "unit_price"})");
  auto tables = load(dir);
  ASSERT_FALSE(tables);
  EXPECT_EQ(tables.error().message,
            R"(mapping error in lineitems.json fields: no rule has "to": "unit_price", which the code reads )"
            R"((a line item with neither unit_price nor subtotal is left out))");
  EXPECT_EQ(tables.error().path, "lineitems.json fields");
  EXPECT_EQ(tables.error().code, omt::errc::invalid_config);
}

TEST(MappingContract, RemovingACustomerKeyNamesItsList) {
  MappingDir dir;
  dir.replace("order.json", R"({"to": "email", "from": ["traits.email", "context.traits.email", "properties.email"]},)", "");
  auto tables = load(dir);
  ASSERT_FALSE(tables);
  EXPECT_EQ(tables.error().message.rfind(R"(mapping error in order.json customer: no rule has "to": "email", )", 0), 0u)
      << tables.error().message;
}

// Every key of every contract, renamed in a copy of the project's tables, is refused with its own message.
TEST(MappingContract, EveryDeclaredKeyIsChecked) {
  std::size_t checked = 0;
  for (const auto& table : contract::all) {
    for (const auto& required : table.keys) {
      MappingDir dir;
      const std::string file(table.file), list(table.list), key(required.key);
      nlohmann::json j = nlohmann::json::parse(dir.read(file), nullptr, true, /*ignore_comments=*/true);
      bool renamed = false;
      for (auto& rule : j.at(list))
        if (rule.at("to") == key) {
          rule["to"] = key + "_renamed";
          renamed = true;
        }
      ASSERT_TRUE(renamed) << file << " " << list << " has no rule to " << key;
      dir.write(file, j.dump(2));
      auto tables = load(dir);
      ASSERT_FALSE(tables) << "renaming " << key << " in " << file << " " << list << " was accepted";
      EXPECT_EQ(tables.error().message, "mapping error in " + file + " " + list + ": no rule has \"to\": \"" + key +
                                            "\", which the code reads (" + std::string(required.why) + ")");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 31u);  // every key of output_contract.hpp; one added there is renamed and checked here too
}

TEST(MappingContract, AContractOverAnUnknownListIsAnError) {
  auto tables = omt::mapping::load_tables(omt::test::project_mappings_dir(), contract::all);
  ASSERT_TRUE(tables) << tables.error().message;
  static constexpr omt::mapping::RequiredKey keys[] = {{"city", "test"}};
  static constexpr omt::mapping::TableContract wrong[] = {{"order.json", "shipping", keys}};
  auto error = omt::mapping::check_contract(*tables, wrong);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "mapping error in order.json shipping: no such rule list (the code's contract)");
  static constexpr omt::mapping::TableContract address[] = {{"order.json", "address", keys}};
  EXPECT_FALSE(omt::mapping::check_contract(*tables, address));
}

// mappings/README.md lists the contract, one row per key, exactly as contract.hpp declares it.
TEST(MappingContract, ReadmeListsEveryContractKey) {
  std::ifstream in(omt::test::project_mappings_dir() / "README.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  std::size_t rows = 0;
  for (const auto& table : contract::all)
    for (const auto& required : table.keys) {
      const std::string row = "| `" + std::string(table.file) + "` `" + std::string(table.list) + "` | `" +
                              std::string(required.key) + "` | " + std::string(required.why) + " |\n";
      EXPECT_NE(readme.find(row), std::string::npos) << "mappings/README.md lacks the row\n" << row;
      ++rows;
    }
  // No rows for keys the code no longer reads.
  const std::regex contract_row(R"(^\| `[a-z_]+\.json` `[a-z_]+` \|)");
  std::size_t listed = 0;
  std::istringstream lines(readme);
  for (std::string line; std::getline(lines, line);)
    if (std::regex_search(line, contract_row)) ++listed;
  EXPECT_EQ(listed, rows);
}

}  // namespace
