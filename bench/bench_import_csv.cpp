// Rows/s of the CSV import reader on a Shopify order export (mappings/import/shopify_orders.json): rows are made
// on the fly by a ByteSource (three line items an order, realistic cells), so a run of millions of rows holds
// no file in memory, and the reader's own memory is what the max_rss_mib counter shows.
// Run: ./build/bench/omt_bench --benchmark_filter=CsvImport
#include <sys/resource.h>

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "mapping_dir.hpp"
#include "omt/import/csv_reader.hpp"
#include "omt/import/file_source.hpp"

namespace {

const char* const header =
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,"
    "Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,"
    "Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,"
    "Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,"
    "Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,"
    "Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Id,Tags,Risk Level,Source,"
    "Lineitem discount\r\n";

// A Shopify order export of `orders` orders, three rows each, made as it is read.
class GeneratedOrders final : public omt::import::ByteSource {
 public:
  explicit GeneratedOrders(std::size_t orders) : orders_(orders) { pending_ = header; }

  omt::Expected<std::size_t> read(char* out, std::size_t size) override {
    std::size_t n = 0;
    while (n < size) {
      if (at_ == pending_.size()) {
        if (made_ == orders_) break;
        make_order();
      }
      const std::size_t take = std::min(size - n, pending_.size() - at_);
      std::memcpy(out + n, pending_.data() + at_, take);
      at_ += take;
      n += take;
    }
    consumed_ += n;
    return n;
  }
  std::uint64_t bytes_read() const override { return consumed_; }

 private:
  void make_order() {
    pending_.clear();
    at_ = 0;
    const std::string name = "#" + std::to_string(1000 + made_), id = std::to_string(5500000000000 + made_);
    pending_ += name + ",customer" + std::to_string(made_) +
                "@example.com,paid,2024-03-01 10:15:02 +0000,fulfilled,2024-03-02 09:00:00 +0000,yes,GBP,59.00,4.95,"
                "10.82,63.95,SPRING10,6.00,Standard,2024-03-01 10:14:55 +0000,2,Linen Shirt - M / Blue,19.50,,"
                "SHIRT-M-BLUE,true,true,fulfilled,Ada Lovelace,\"12 Ockham Lane, Flat 2\",12 Ockham Lane,Flat 2,,London,"
                "N1 7AA,,GB,,Ada Lovelace,\"12 Ockham Lane, Flat 2\",12 Ockham Lane,Flat 2,,London,N1 7AA,,GB,,"
                "\"Leave at the door, please\",,,Shopify Payments,c123.1,0.00,Acme Linen," +
                id + ",\"vip, spring\",Low,web,3.00\r\n";
    for (const char* sku : {"SOCKS-CLASSIC", "TOTE-NATURAL"})
      pending_ += name + ",customer" + std::to_string(made_) +
                  "@example.com,,,,,,,,,,,,,,2024-03-01 10:14:55 +0000,1,\"Wool Socks \"\"Classic\"\"\",12.00,,"
                  + sku + ",true,true,fulfilled,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,0.00\r\n";
    ++made_;
  }

  std::size_t orders_, made_ = 0;
  std::string pending_;
  std::size_t at_ = 0;
  std::uint64_t consumed_ = 0;
};

const omt::import::CsvTable& orders_table() {
  static const auto tables = omt::import::CsvTables::load(omt::test::project_mappings_dir() / "import");
  if (!tables) std::abort();
  return *tables->find("shopify_orders");
}

void BM_CsvImportShopifyOrders(benchmark::State& state) {
  const auto orders = static_cast<std::size_t>(state.range(0));
  std::size_t records = 0, bytes = 0;
  for (auto _ : state) {
    omt::import::CsvTableChoice choice{omt::ometria::RecordType::order, orders_table(), nullptr};
    auto reader = omt::import::CsvReader::open("orders.csv", std::make_unique<GeneratedOrders>(orders), choice);
    if (!reader) {
      state.SkipWithError(reader.error().message.c_str());
      return;
    }
    while (true) {
      auto item = (*reader)->next();
      if (!item || !*item) break;
      if (!std::holds_alternative<omt::import::RecordItem>(**item)) state.SkipWithError("bad row");
      ++records;
    }
    bytes += (*reader)->bytes_read();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double rows = static_cast<double>(orders) * 3 * static_cast<double>(state.iterations());
  state.counters["rows_per_s"] = benchmark::Counter(rows, benchmark::Counter::kIsRate);
  state.counters["orders_per_s"] = benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["max_rss_mib"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
  state.SetItemsProcessed(static_cast<int64_t>(records));  // events/s (items_per_second), as every stage reports
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_CsvImportShopifyOrders)->Arg(10000)->Unit(benchmark::kMillisecond);
// A million rows: memory must not grow with the file.
BENCHMARK(BM_CsvImportShopifyOrders)->Arg(333334)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
