// A number past a double's range (1e999999) makes nlohmann throw out_of_range, not parse_error: every JSON the
// service reads with it (config file, OMT_SOURCES, a destination config, the mapping tables) must turn that into
// a clear error, never std::terminate (found by fuzz_mapping_load).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "mapping_dir.hpp"
#include "omt/config/config.hpp"
#include "omt/ometria/transformer.hpp"

namespace {

namespace fs = std::filesystem;

TEST(JsonNumberRange, AConfigWithANumberPastADoublesRangeIsAnError) {
  auto raw = omt::config::RawConfig::parse(R"({"server": {"threads": 1e999999}})", "config.json");
  ASSERT_FALSE(raw);
  EXPECT_NE(raw.error().message.find("config.json: invalid JSON"), std::string::npos) << raw.error().message;
}

TEST(JsonNumberRange, OmtSourcesWithANumberPastADoublesRangeIsAnError) {
  omt::config::RawConfig raw;
  auto applied = raw.apply_environment({{"OMT_SOURCES", R"([{"name": 1e999999}])"}});
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("OMT_SOURCES"), std::string::npos) << applied.error().message;
}

TEST(JsonNumberRange, AMappingTableWithANumberPastADoublesRangeIsAnError) {
  const fs::path dir = fs::temp_directory_path() / ("omt-number-range-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(omt::test::project_mappings_dir(), dir, fs::copy_options::recursive);
  for (const char* file : {"contact.json", "own_orders.json"}) {
    std::ofstream(dir / file, std::ios::trunc) << R"({"description": 7777.7E2222222222222222222})";
    auto loaded = omt::ometria::Transformer::load(dir);
    ASSERT_FALSE(loaded) << file;
    EXPECT_NE(loaded.error().message.find("is not valid JSON"), std::string::npos) << loaded.error().message;
    fs::copy(omt::test::project_mappings_dir() / file, dir / file, fs::copy_options::overwrite_existing);
  }
  fs::remove_all(dir);
}

}  // namespace
