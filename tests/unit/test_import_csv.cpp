// The CSV import reader and its tables: each shipped table on a sample export (tests/cases/import/csv/, golden
// output beside each sample), grouping, bad values naming column and line, table checks, detection, limits and
// resuming, and a user's own table working without code.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mapping_dir.hpp"
#include "omt/import/csv_reader.hpp"
#include "omt/import/file_source.hpp"

namespace {

namespace fs = std::filesystem;
using omt::import::BadRow;
using omt::import::CsvReader;
using omt::import::CsvTableChoice;
using omt::import::CsvTables;
using omt::import::RecordItem;
using omt::ometria::RecordType;

fs::path samples_dir() { return fs::path(OMT_SOURCE_DIR) / "tests" / "cases" / "import" / "csv"; }
fs::path tables_dir() { return omt::test::project_mappings_dir() / "import"; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const CsvTables& shipped() {
  static const auto tables = CsvTables::load(tables_dir());
  if (!tables) throw std::runtime_error(tables.error().message);
  return *tables;
}

// One line an item: "LINE END_OFFSET {json}" or "LINE END_OFFSET bad FIELD: REASON".
std::string describe(const omt::import::Item& item) {
  if (const auto* r = std::get_if<RecordItem>(&item))
    return std::to_string(r->at.line) + " " + std::to_string(r->at.end_offset) + " " + r->json;
  if (const auto* b = std::get_if<BadRow>(&item))
    return std::to_string(b->at.line) + " " + std::to_string(b->at.end_offset) + " bad " + b->field + ": " + b->reason;
  return "event";
}

struct Read {
  std::vector<std::string> items;
  std::string error;  // open or read error
};

Read read_csv(const std::string& text, CsvTableChoice choice, omt::import::CsvReaderOptions options = {},
              std::size_t chunk = 64 * 1024) {
  Read out;
  auto reader = CsvReader::open("in.csv", omt::import::string_source(text, chunk), choice, options);
  if (!reader) {
    out.error = reader.error().message;
    return out;
  }
  while (true) {
    auto item = (*reader)->next();
    if (!item) {
      out.error = item.error().message;
      return out;
    }
    if (!*item) return out;
    out.items.push_back(describe(**item));
  }
}

CsvTableChoice shipped_table(const std::string& name) {
  const auto* table = shipped().find(name);
  if (table == nullptr) throw std::runtime_error("no table " + name);
  return CsvTableChoice{table->type(), *table, nullptr};
}

CsvTableChoice own_table(const std::string& json) {
  auto table = omt::import::parse_csv_table(json, "mine.json");
  if (!table) throw std::runtime_error(table.error().message);
  return CsvTableChoice{table->type(), *table, nullptr};
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// ---- The shipped tables on their samples ------------------------------------------------------------------

TEST(CsvImportTables, ShippedTablesLoadAndAreListedByName) {
  EXPECT_EQ(shipped().names(),
            (std::vector<std::string>{"ometria_contacts", "shopify_customers", "shopify_orders", "shopify_products"}));
}

// tests/cases/import/csv/NAME.csv read by table NAME gives NAME.expected (set OMT_UPDATE_GOLDEN=1 to rewrite).
TEST(CsvImportTables, EachShippedTableReadsItsSampleExport) {
  int samples = 0;
  for (const auto& name : shipped().names()) {
    const fs::path csv = samples_dir() / (name + ".csv");
    ASSERT_TRUE(fs::exists(csv)) << csv;
    for (std::size_t chunk : {std::size_t{1} << 16, std::size_t{5}}) {
      const Read got = read_csv(read_text(csv), shipped_table(name), {}, chunk);
      ASSERT_EQ(got.error, "") << name;
      const fs::path expected = samples_dir() / (name + ".expected");
      if (std::getenv("OMT_UPDATE_GOLDEN") != nullptr) std::ofstream(expected, std::ios::binary) << joined(got.items);
      EXPECT_EQ(joined(got.items), read_text(expected)) << name << " read in chunks of " << chunk;
    }
    ++samples;
  }
  EXPECT_EQ(samples, 4);
}

TEST(CsvImportTables, EveryRecordIsJsonWithTypeAndIdFirst) {
  for (const auto& name : shipped().names()) {
    const Read got = read_csv(read_text(samples_dir() / (name + ".csv")), shipped_table(name));
    for (const auto& line : got.items) {
      const auto json = line.substr(line.find(' ', line.find(' ') + 1) + 1);
      if (json.rfind("bad ", 0) == 0) continue;
      EXPECT_EQ(json.rfind("{\"@type\":\"", 0), 0u) << line;
      EXPECT_NE(json.find("\",\"id\":\""), std::string::npos) << line;
    }
  }
}

// ---- Grouping ----------------------------------------------------------------------------------------------

TEST(CsvImportGrouping, ShopifyOrderOfThreeRowsIsOneOrderWithItsLineItems) {
  const Read got = read_csv(read_text(samples_dir() / "shopify_orders.csv"), shipped_table("shopify_orders"));
  ASSERT_EQ(got.items.size(), 2u) << joined(got.items);
  const std::string& first = got.items[0];
  EXPECT_EQ(first.rfind("2 ", 0), 0u);  // the order's first row
  // Three rows, two line items: the gift wrap has no SKU (a custom item), so it is left out.
  EXPECT_NE(first.find("\"lineitems\":[{\"product_id\":\"SHIRT-M-BLUE\",\"sku\":\"SHIRT-M-BLUE\",\"quantity\":2,"
                       "\"unit_price\":19.5,\"discount\":3},{\"product_id\":\"SOCKS-CLASSIC\","),
            std::string::npos)
      << first;
  EXPECT_EQ(first.find("Gift wrap"), std::string::npos);
  EXPECT_NE(got.items[1].find("\"status\":\"cancelled\",\"is_valid\":false"), std::string::npos) << got.items[1];
}

TEST(CsvImportGrouping, ShopifyProductWithVariantsIsAParentAndAVariantRecordEach) {
  const Read got = read_csv(read_text(samples_dir() / "shopify_products.csv"), shipped_table("shopify_products"));
  ASSERT_EQ(got.items.size(), 5u) << joined(got.items);
  EXPECT_NE(got.items[0].find("\"id\":\"linen-shirt\""), std::string::npos);
  EXPECT_NE(got.items[0].find("\"is_variant\":false"), std::string::npos);
  EXPECT_NE(got.items[1].find("\"id\":\"SHIRT-M-BLUE\",\"title\":\"Linen Shirt\""), std::string::npos) << got.items[1];
  EXPECT_NE(got.items[2].find("\"id\":\"SHIRT-L-BLUE\",\"title\":\"Linen Shirt\",\"sku\":\"SHIRT-L-BLUE\",\"price\":21"),
            std::string::npos)
      << got.items[2];
  // All of a group's records but its last carry the group's start: a resume from them reads the group again.
  const auto offset = [](const std::string& line) { return std::stoull(line.substr(line.find(' ') + 1)); };
  EXPECT_EQ(offset(got.items[0]), offset(got.items[1]));
  EXPECT_LT(offset(got.items[1]), offset(got.items[2]));
}

TEST(CsvImportGrouping, ShopifyCustomerWithTwoAddressesIsOneContactFromTheFirstRow) {
  const Read got = read_csv(read_text(samples_dir() / "shopify_customers.csv"), shipped_table("shopify_customers"));
  ASSERT_EQ(got.items.size(), 3u) << joined(got.items);
  EXPECT_NE(got.items[0].find("\"id\":\"7001\""), std::string::npos);
  EXPECT_EQ(std::count_if(got.items.begin(), got.items.end(),
                          [](const std::string& l) { return l.find("\"id\":\"7001\"") != std::string::npos; }),
            1);
}

TEST(CsvImportGrouping, FillTakesWhatTheFirstRowLeftEmptyFromLaterRows) {
  const auto table = own_table(R"({"type": "contact", "groupBy": {"column": "key", "otherRows": "fill"},
    "fields": [{"column": "key", "to": "id"}, {"column": "mail", "to": "email", "required": true},
               {"column": "city", "to": "properties.city"}]})");
  const Read got = read_csv("key,mail,city\nk1,,\nk1,a@example.com,Leeds\nk1,b@example.com,York\nk2,,\n", table);
  EXPECT_EQ(joined(got.items),
            "2 64 {\"@type\":\"contact\",\"id\":\"k1\",\"email\":\"a@example.com\",\"properties\":{\"city\":\"Leeds\"}}\n"
            "5 69 bad mail: is empty in every row, and the table requires it\n");
}

TEST(CsvImportGrouping, OnlyConsecutiveRowsGroup) {
  const auto table = own_table(R"({"type": "order", "groupBy": {"column": "n"},
    "fields": [{"column": "n", "to": "id"}, {"column": "q", "to": "lineitems[].quantity", "read": "integer"}, {"const": "2024-05-01T10:00:00Z", "to": "timestamp"}, {"const": 5, "to": "grand_total"}, {"const": "GBP", "to": "currency"}]})");
  const Read got = read_csv("n,q\n1,1\n1,2\n2,3\n1,4\n", table);
  EXPECT_EQ(joined(got.items),
            "2 12 {\"@type\":\"order\",\"id\":\"1\",\"lineitems\":[{\"quantity\":1},{\"quantity\":2}],\"timestamp\":\"2024-05-01T10:00:00Z\",\"grand_total\":5,\"currency\":\"GBP\"}\n"
            "4 16 {\"@type\":\"order\",\"id\":\"2\",\"lineitems\":[{\"quantity\":3}],\"timestamp\":\"2024-05-01T10:00:00Z\",\"grand_total\":5,\"currency\":\"GBP\"}\n"
            "5 20 {\"@type\":\"order\",\"id\":\"1\",\"lineitems\":[{\"quantity\":4}],\"timestamp\":\"2024-05-01T10:00:00Z\",\"grand_total\":5,\"currency\":\"GBP\"}\n");
}

// ---- Bad rows ----------------------------------------------------------------------------------------------

TEST(CsvImportBadRows, BadValueNamesTheColumnAndLineAndLosesTheWholeGroup) {
  const std::string csv = read_text(samples_dir() / "shopify_orders.csv");
  std::string broken = csv;
  const auto at = broken.find("12.00");  // the second row's Lineitem price
  broken.replace(at, 5, "12,00");        // one more field on that row: malformed
  Read got = read_csv(broken, shipped_table("shopify_orders"));
  ASSERT_EQ(got.items.size(), 2u) << joined(got.items);
  EXPECT_NE(got.items[0].find("3 "), std::string::npos);
  EXPECT_NE(got.items[0].find(" bad : the row has 57 fields, the header 56 (the rows of Name \"#1001\" from line 2 are "
                              "left out)"),
            std::string::npos)
      << got.items[0];
  EXPECT_NE(got.items[1].find("\"id\":\"5522222222222\""), std::string::npos);

  broken = csv;
  broken.replace(broken.find("12.00"), 5, "12.0x");
  got = read_csv(broken, shipped_table("shopify_orders"));
  ASSERT_EQ(got.items.size(), 2u);
  EXPECT_EQ(got.items[0].substr(0, 2), "3 ");
  EXPECT_NE(got.items[0].find("bad Lineitem price: \"12.0x\" is not an amount (digits, an optional '-' and '.')"),
            std::string::npos)
      << got.items[0];
}

TEST(CsvImportBadRows, EachKindOfBadValue) {
  const auto table = own_table(R"({"type": "contact", "fields": [
    {"column": "id", "to": "id"},
    {"column": "n", "to": "properties.n", "read": "number"},
    {"column": "i", "to": "properties.i", "read": "integer"},
    {"column": "b", "to": "properties.b", "read": "boolean", "true": ["Y"], "false": ["N"]},
    {"column": "t", "to": "properties.t", "read": "timestamp", "formats": ["%Y-%m-%d %H:%M:%S %z", "%d/%m/%Y"], "timezone": "+02:00"},
    {"column": "c", "to": "properties.c", "read": "currency"},
    {"column": "p", "to": "phone_number", "read": "phone"},
    {"column": "g", "to": "gender", "map": {"f": ["F", "woman"]}}, {"const": "a@example.com", "to": "email"}]})");
  const Read got = read_csv(
      "id,n,i,b,t,c,p,g\n"
      "1, 1e3 ,-42,y,2024-02-29 23:30:00 -0130,usd,+44 20 7946 0958,Woman\n"
      "2,x,,,,,,\n"
      "3,,4.5,,,,,\n"
      "4,,,maybe,,,,\n"
      "5,,,,2023-02-29 10:00:00 +0000,,,\n"
      "6,,,,31/12/1999,,,\n"
      "7,,,,,XTS,,\n"
      "8,,,,,,07946 0958,\n"
      "9,,,,,,,m\n"
      ",,,,,,,\n",
      table);
  EXPECT_EQ(joined(got.items),
            "2 84 {\"@type\":\"contact\",\"id\":\"1\",\"properties\":{\"n\":1000,\"i\":-42,\"b\":true,"
            "\"t\":\"2024-03-01T01:00:00Z\",\"c\":\"USD\"},\"phone_number\":\"+442079460958\",\"gender\":\"f\",\"email\":\"a@example.com\"}\n"
            "3 94 bad n: \"x\" is not a number\n"
            "4 106 bad i: \"4.5\" is not a whole number\n"
            "5 120 bad b: \"maybe\" is not one of the table's true or false words\n"
            "6 154 bad t: \"2023-02-29 10:00:00 +0000\" is not a time in the table's formats\n"
            "7 173 {\"@type\":\"contact\",\"id\":\"6\",\"properties\":{\"t\":\"1999-12-30T22:00:00Z\"},\"email\":\"a@example.com\"}\n"
            "8 185 bad c: \"XTS\" is not an ISO 4217 currency code\n"
            "9 204 bad p: not a valid phone number in international form (+...)\n"
            "10 214 bad g: \"m\" is not one of the values the table maps\n"
            "11 222 bad id: is empty: every record needs an id\n");
}

// A ragged row names no column; malformed quoting names the column it is in. Either way the next rows are read.
TEST(CsvImportBadRows, MalformedRowsAreBadRowsAndTheNextRowsAreRead) {
  const auto ids_only = own_table(R"({"type": "contact", "fields": [{"column": "id", "to": "id"}, {"const": "a@example.com", "to": "email"}]})");
  EXPECT_EQ(joined(read_csv("id,x\n1,a\n2\n3,c,d\n4,d\n", ids_only).items),
            "2 9 {\"@type\":\"contact\",\"id\":\"1\",\"email\":\"a@example.com\"}\n"
            "3 11 bad : the row has 1 fields, the header 2\n"
            "4 17 bad : the row has 3 fields, the header 2\n"
            "5 21 {\"@type\":\"contact\",\"id\":\"4\",\"email\":\"a@example.com\"}\n");
  EXPECT_EQ(joined(read_csv("id,name\n1,\"Ada\"x\n2,ok\n", ids_only).items),
            "2 17 bad name: text after the closing quote of field 2\n"
            "3 22 {\"@type\":\"contact\",\"id\":\"2\",\"email\":\"a@example.com\"}\n");
}

TEST(CsvImportTables, ShopifyCustomerIdLosesASpreadsheetApostrophe) {
  const Read got = read_csv("Customer ID,Email,First Name\n'7012345678901,ada@example.com,Ada\n",
                            shipped_table("shopify_customers"));
  EXPECT_EQ(joined(got.items),
            "2 64 {\"@type\":\"contact\",\"id\":\"7012345678901\",\"email\":\"ada@example.com\","
            "\"customer_id\":\"7012345678901\",\"firstname\":\"Ada\"}\n");
}

TEST(CsvImportBadRows, RequiredEmptyCellNamesItsColumn) {
  const Read got = read_csv("Customer ID,Email,First Name\n7001,,Ada\n", shipped_table("shopify_customers"));
  EXPECT_EQ(joined(got.items), "2 39 bad Email: is empty, and the table requires it\n");
}

TEST(CsvImportBadRows, GroupOverTheRowLimitIsOneBadRow) {
  omt::import::CsvReaderOptions options;
  options.limits.max_group_rows = 2;
  const auto table = own_table(R"({"type": "order", "groupBy": {"column": "n"},
    "fields": [{"column": "n", "to": "id"}, {"column": "q", "to": "lineitems[].quantity", "read": "integer"}, {"const": "2024-05-01T10:00:00Z", "to": "timestamp"}, {"const": 5, "to": "grand_total"}, {"const": "GBP", "to": "currency"}]})");
  const Read got = read_csv("n,q\n1,1\n1,2\n1,3\n2,1\n", table, options);
  EXPECT_EQ(joined(got.items),
            "4 16 bad n: more than 2 rows share this n\n"
            "5 20 {\"@type\":\"order\",\"id\":\"2\",\"lineitems\":[{\"quantity\":1}],\"timestamp\":\"2024-05-01T10:00:00Z\",\"grand_total\":5,\"currency\":\"GBP\"}\n");
}

TEST(CsvImportBadRows, ACellThatIsNotUtf8IsABadValue) {
  // "Zoë" as Windows-1252 writes it: the record would not be JSON, and Ometria would refuse its whole push.
  const Read got = read_csv("Customer ID,Email,First Name\n7001,zoe@example.com,Zo\xEB\n", shipped_table("shopify_customers"));
  EXPECT_EQ(joined(got.items), "2 54 bad First Name: is not UTF-8 text (save the file as UTF-8)\n");
}

TEST(CsvImportBadRows, ARecordOmetriaWouldRefuseIsABadRowNamingItsColumn) {
  // A product whose first row has no Title: import::check_record refuses it, as it refuses such a JSON Lines record.
  const std::string text = read_text(samples_dir() / "shopify_products.csv");
  const std::string header = text.substr(0, text.find('\n') + 1);
  const Read got = read_csv(header + "canvas-tote,,,,,,,FALSE,Title,Default Title,,,,,TOTE,,,,,,25.00,,,,,,,,,,,,,,,active\n",
                            shipped_table("shopify_products"));
  ASSERT_EQ(got.items.size(), 1u);
  EXPECT_NE(joined(got.items).find(" bad Title: "), std::string::npos) << joined(got.items);
}

// ---- Files and headers -------------------------------------------------------------------------------------

TEST(CsvImportFiles, EmptyFileAndHeaderOnlyYieldNothing) {
  EXPECT_TRUE(read_csv("", shipped_table("shopify_orders")).items.empty());
  EXPECT_EQ(read_csv("", shipped_table("shopify_orders")).error, "");
  const std::string header = read_text(samples_dir() / "shopify_orders.csv").substr(0, 600);
  const Read got = read_csv(header.substr(0, header.find('\n') + 1), shipped_table("shopify_orders"));
  EXPECT_EQ(got.error, "");
  EXPECT_TRUE(got.items.empty());
}

TEST(CsvImportFiles, MissingRequiredColumnStopsTheFileNamingIt) {
  const Read got = read_csv("First Name,Email\nAda,ada@example.com\n", shipped_table("shopify_customers"));
  EXPECT_EQ(got.error,
            "in.csv: the header has no column \"Customer ID\", which shopify_customers.json fields[0] (to \"id\") requires");
}

TEST(CsvImportFiles, ATableOfAnotherTypeIsRefused) {
  auto choice = shipped_table("shopify_orders");
  choice.type = RecordType::contact;
  EXPECT_EQ(read_csv("Name\n", choice).error, "in.csv: csv table shopify_orders makes order records, not contact");
}

TEST(CsvImportFiles, DetectionTellsOmetriaFromShopifyContactHeaders) {
  CsvTableChoice choice{RecordType::contact, std::nullopt, &shipped()};
  auto reader = CsvReader::open("a.csv", omt::import::string_source("email,id\nx@example.com,1\n"), choice);
  ASSERT_TRUE(reader.has_value()) << reader.error().message;
  EXPECT_EQ((*reader)->table()->name(), "ometria_contacts");
  reader = CsvReader::open("b.csv", omt::import::string_source("Customer ID,First Name,Email\n1,A,x@example.com\n"), choice);
  ASSERT_TRUE(reader.has_value()) << reader.error().message;
  EXPECT_EQ((*reader)->table()->name(), "shopify_customers");
  reader = CsvReader::open("c.csv", omt::import::string_source("mail,name\n"), choice);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().message,
            "c.csv: the header fits no contact table (ometria_contacts, shopify_customers): name one with --csv-table "
            "NAME|FILE");
  choice.type = RecordType::order;
  reader = CsvReader::open("d.csv", omt::import::string_source(read_text(samples_dir() / "shopify_orders.csv")), choice);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->table()->name(), "shopify_orders");
}

TEST(CsvImportFiles, ResolveTakesANameOrAFile) {
  EXPECT_EQ(shipped().resolve("shopify_products")->name(), "shopify_products");
  auto unknown = shipped().resolve("shopify_refunds");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().message,
            "unknown csv table \"shopify_refunds\" (shipped: ometria_contacts, shopify_customers, shopify_orders, "
            "shopify_products; a file of your own is given by its path)");
  auto file = shipped().resolve((tables_dir() / "shopify_orders.json").string());
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->type(), RecordType::order);
}

TEST(CsvImportFiles, ResumeSkipsRowsUpToTheCheckpointOffset) {
  const std::string csv = read_text(samples_dir() / "shopify_orders.csv");
  const Read all = read_csv(csv, shipped_table("shopify_orders"));
  ASSERT_EQ(all.items.size(), 2u);
  omt::import::CsvReaderOptions options;
  options.resume_after = std::stoull(all.items[0].substr(all.items[0].find(' ') + 1));
  const Read rest = read_csv(csv, shipped_table("shopify_orders"), options);
  EXPECT_EQ(rest.items, (std::vector<std::string>{all.items[1]}));
}

TEST(CsvImportFiles, ReadsAFileFromDisk) {
  auto source = omt::import::open_file_source(samples_dir() / "shopify_products.csv");
  ASSERT_TRUE(source.has_value());
  auto reader = CsvReader::open("shopify_products.csv", std::move(*source), shipped_table("shopify_products"));
  ASSERT_TRUE(reader.has_value());
  int n = 0;
  while (auto item = (*reader)->next()) {
    if (!*item) break;
    ++n;
  }
  EXPECT_EQ(n, 5);
  EXPECT_EQ((*reader)->bytes_read(), fs::file_size(samples_dir() / "shopify_products.csv"));
}

// ---- Tables ------------------------------------------------------------------------------------------------

TEST(CsvImportTableChecks, ErrorsNameTheFileAndTheKey) {
  const auto error = [](const std::string& json) {
    auto table = omt::import::parse_csv_table(json, "mine.json");
    return table ? std::string("loaded") : table.error().message;
  };
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "reed": "string"}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): unknown key \"reed\"");
  EXPECT_EQ(error(R"({"type": "contact", "colour": 1, "fields": []})"), "csv table error in mine.json: unknown key \"colour\"");
  EXPECT_EQ(error(R"({"type": "event", "fields": []})"),
            "csv table error in mine.json type: must be \"contact\", \"order\" or \"product\"");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "email"}]})"),
            "csv table error in mine.json: no field has \"to\": \"id\" (every record needs an id)");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id"}, {"column": "b", "to": "id.x"}]})"),
            "csv table error in mine.json fields[1] (to \"id.x\"): \"id.x\" conflicts with another field's path through \"id\"");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "read": "float"}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): \"read\" must be one of string, number, integer, "
            "boolean, timestamp, date, money, currency, phone; got \"float\"");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "read": "timestamp"}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): \"formats\" (patterns such as \"%Y-%m-%d %H:%M:%S %z\") "
            "is required");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "read": "timestamp", "formats": "%Q"}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): format \"%Q\": unknown conversion %Q (known: %Y %m %d "
            "%H %I %M %S %p %z %%)");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "read": "timestamp", "formats": "%Y", "timezone": "Europe/London"}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): \"timezone\" must be \"UTC\" or a fixed offset such as "
            "\"+01:00\" (zone names are not supported)");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "true": ["y"]}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): \"true\" applies only to \"read\": \"boolean\"");
  EXPECT_EQ(error(R"({"type": "order", "fields": [{"column": "a", "to": "id"}, {"column": "b", "to": "lineitems[]"}]})"),
            "csv table error in mine.json fields[1] (to \"lineitems[]\"): in \"lineitems[]\" only one [] may appear, and "
            "not at the end (an array holds objects)");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"column": "a", "to": "id", "map": {"x": ["a"], "y": ["A"]}}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): \"map\" lists the input \"a\" twice");
  EXPECT_EQ(error(R"({"type": "contact", "fields": [{"to": "id"}]})"),
            "csv table error in mine.json fields[0] (to \"id\"): a field needs \"column\", \"columnsStartingWith\" or "
            "\"const\"");
  EXPECT_EQ(error("{\"type\": "), "csv table mine.json is not valid JSON: [json.exception.parse_error.101] parse error at "
                                  "line 1, column 10: syntax error while parsing value - unexpected end of input; "
                                  "expected '[', '{', or a literal");
}

TEST(CsvImportTableChecks, AFolderWithABadTableIsRefusedNamingTheFile) {
  omt::test::MappingDir dir;
  std::ofstream(dir.path() / "import" / "broken.json") << R"({"type": "product", "fields": [{"to": "id", "column": 3}]})";
  auto tables = CsvTables::load(dir.path() / "import");
  ASSERT_FALSE(tables.has_value());
  EXPECT_EQ(tables.error().message,
            "csv table error in broken.json fields[0] (to \"id\"): \"column\" must be a string or a non-empty list of strings");
}

// A layout of the user's own: a new table, no code.
TEST(CsvImportOwnTable, AUsersOwnLayoutWorksWithoutCode) {
  const auto table = own_table(R"({
    "description": "Our till system's order export",
    "type": "order",
    "groupBy": {"column": "Receipt"},
    "fields": [
      {"column": "Receipt", "to": "id", "prefix": "till-"},
      {"column": "When", "to": "timestamp", "read": "timestamp", "formats": ["%d/%m/%Y %I:%M %p"], "timezone": "+01:00",
       "required": true},
      {"const": "GBP", "to": "currency"},
      {"const": "shop.example/london", "to": "store"},
      {"const": "pos", "to": "channel"},
      {"column": "Total", "to": "grand_total", "read": "money"},
      {"column": "Member", "to": "customer.id"},
      {"column": "Member email", "to": "customer.email"},
      {"column": "Gift", "to": "properties.gift", "read": "boolean", "true": ["Y"], "false": ["N"]},
      {"column": "Product", "to": "lineitems[].product_id", "dropItemIfEmpty": true},
      {"column": "Qty", "to": "lineitems[].quantity", "read": "integer", "required": true},
      {"column": "Each", "to": "lineitems[].unit_price", "read": "money"}
    ]})");
  const Read got = read_csv(
      "Receipt,When,Total,Member,Member email,Gift,Product,Qty,Each\n"
      "R-77,05/03/2024 1:05 PM,30.00,m-9,,N,P-1,2,10.00\n"
      "R-77,,,,,,P-2,1,10.00\n"
      "R-78,06/03/2024 9:00 AM,5,,,,,1,5\n",
      table);
  EXPECT_EQ(joined(got.items),
            "2 132 {\"@type\":\"order\",\"id\":\"till-R-77\",\"timestamp\":\"2024-03-05T12:05:00Z\",\"currency\":\"GBP\","
            "\"store\":\"shop.example/london\",\"channel\":\"pos\",\"grand_total\":30,\"customer\":{\"id\":\"m-9\"},"
            "\"properties\":{\"gift\":false},\"lineitems\":[{\"product_id\":\"P-1\",\"quantity\":2,\"unit_price\":10},"
            "{\"product_id\":\"P-2\",\"quantity\":1,\"unit_price\":10}]}\n"
            "4 166 {\"@type\":\"order\",\"id\":\"till-R-78\",\"timestamp\":\"2024-03-06T08:00:00Z\",\"currency\":\"GBP\","
            "\"store\":\"shop.example/london\",\"channel\":\"pos\",\"grand_total\":5}\n");
}

TEST(CsvImportOwnTable, StringsAreEscapedAsJson) {
  const auto table = own_table(R"({"type": "contact", "fields": [{"column": "id", "to": "id"},
    {"column": "note", "to": "properties.note", "prefix": "say: "}, {"const": "a@example.com", "to": "email"}]})");
  const Read got = read_csv("id,note\n1,\"a \"\"quote\"\", a \\ and\na newline\"\n", table);
  EXPECT_EQ(joined(got.items),
            "2 43 {\"@type\":\"contact\",\"id\":\"1\",\"properties\":{\"note\":\"say: a \\\"quote\\\", a \\\\ and\\na "
            "newline\"},\"email\":\"a@example.com\"}\n");
}

}  // namespace
