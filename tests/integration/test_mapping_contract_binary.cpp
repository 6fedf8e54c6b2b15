// The mapping contract through the real binary: a mappings folder that renames a key the code reads stops
// `serve` (and `check-config`) at start-up with exit code 2 and a message naming the file, the list and the key.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "child_process.hpp"
#include "mapping_dir.hpp"

namespace {
using namespace std::chrono_literals;

const std::string unit_price_error =
    R"(mapping error in lineitems.json fields: no rule has "to": "unit_price", which the code reads)";

TEST(MappingContractBinary, ServeRefusesMappingsWithoutAKeyTheCodeReads) {
  omt::test::MappingDir dir;
  dir.replace("lineitems.json", R"({"to": "unit_price", "from": "unit_price"})", R"({"to": "price", "from": "unit_price"})");
  omt::test::ChildProcess serve(OMT_BINARY, {"serve", "--listen", "127.0.0.1:0", "--mappings", dir.path().string()});
  EXPECT_EQ(serve.wait_exit(20s), 2) << serve.output();
  EXPECT_NE(serve.output().find(unit_price_error), std::string::npos) << serve.output();
  EXPECT_EQ(serve.output().find("listening on"), std::string::npos) << serve.output();
}

TEST(MappingContractBinary, ServeSaysWhereAMappingFileIsNotJson) {
  omt::test::MappingDir dir;
  dir.write("variant.json", "{\n  \"fields\": [\n    {\"to\": \"id\" \"from\": \"id\"}\n  ]\n}\n");
  omt::test::ChildProcess serve(OMT_BINARY, {"serve", "--listen", "127.0.0.1:0", "--mappings", dir.path().string()});
  EXPECT_EQ(serve.wait_exit(20s), 2) << serve.output();
  EXPECT_NE(serve.output().find("mapping file variant.json is not valid JSON"), std::string::npos) << serve.output();
  EXPECT_NE(serve.output().find("line 3, column"), std::string::npos) << serve.output();
}

TEST(MappingContractBinary, CheckConfigRefusesTheSameMappings) {
  omt::test::MappingDir dir;
  dir.replace("lineitems.json", R"({"to": "unit_price", "from": "unit_price"})", "");
  dir.replace("lineitems.json", R"({"to": "sku", "from": "sku"},)", R"({"to": "sku", "from": "sku"})");
  omt::test::ChildProcess check(OMT_BINARY, {"check-config"}, {"OMT_MAPPINGS_DIR=" + dir.path().string()});
  EXPECT_EQ(check.wait_exit(20s), 2) << check.output();
  EXPECT_NE(check.output().find(unit_price_error), std::string::npos) << check.output();
}

}  // namespace
