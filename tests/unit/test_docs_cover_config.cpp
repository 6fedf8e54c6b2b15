// Every configuration key is documented: each settable key (config::known_keys) has its row in README.md's
// configuration table, so a new key cannot ship undocumented.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "omt/config/config.hpp"

namespace {

TEST(Docs, EveryConfigurationKeyHasItsRowInTheReadme) {
  std::ifstream in(std::string(OMT_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "cannot read README.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const auto keys = omt::config::known_keys();
  ASSERT_GT(keys.size(), 20u);
  for (const auto& key : keys) {
    const bool section = std::any_of(keys.begin(), keys.end(), [&](const std::string& other) {
      return other.size() > key.size() && other.compare(0, key.size() + 1, key + ".") == 0;
    });
    if (section) continue;  // its keys have their rows
    EXPECT_NE(readme.find("| `" + key + "` |"), std::string::npos) << key << " is not in README.md";
  }
}

}  // namespace
