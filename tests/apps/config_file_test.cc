// app::ApplyConfig and app::FormatConfig without the pneumo binary: what --print-config writes
// must read back as the same settings (the property fuzz/config_file_fuzzer.cc checks).
#include "apps/pneumo/config_file.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "testing/temp_dir.h"

namespace pneumo::app {
namespace {

// Applies `text` as the config file of a command with one string option, then writes the merged
// settings with FormatConfig and applies those to a fresh command: the second value.
struct RoundTrip {
  std::string first, second;
  bool reapplied = false;
};

RoundTrip ThroughPrintConfig(const std::string& text) {
  pneumo::testing::TempDir dir;
  const auto file = dir.path() / "first.conf", printed = dir.path() / "printed.conf";
  std::ofstream(file, std::ios::binary) << text;
  RoundTrip out;
  CLI::App app("test", "serve");
  app.add_option("--listen", out.first, "address")->capture_default_str();
  app.parse(std::vector<std::string>{});
  const ConfigRequest request{.file = file, .required = true, .skip = {"help"}};
  auto origins = ApplyConfig(app, request);
  EXPECT_TRUE(origins) << origins.error().message;
  if (!origins) return out;
  std::ofstream(printed, std::ios::binary) << FormatConfig(app, request, *origins);
  CLI::App again("test", "serve");
  again.add_option("--listen", out.second, "address")->capture_default_str();
  again.parse(std::vector<std::string>{});
  auto reapplied = ApplyConfig(again, {.file = printed, .required = true, .skip = {"help"}});
  out.reapplied = reapplied.has_value();
  EXPECT_TRUE(reapplied) << reapplied.error().message;
  return out;
}

// Found by fuzz/config_file_fuzzer.cc: a value starting with a NUL byte looked like a number to
// strtod (c_str() ended at once), so it was written bare and its "\n" broke the printed file.
TEST(ConfigFile, PrintsValuesWithNulBytesOrNewlinesAsQuotedStrings) {
  const RoundTrip nul = ThroughPrintConfig(std::string("listen = \"\0 a\\nb\"\n", 18));
  ASSERT_TRUE(nul.reapplied);
  EXPECT_EQ(nul.first, std::string("\0 a\nb", 5));
  EXPECT_EQ(nul.second, nul.first);
}

TEST(ConfigFile, PrintsStringsThatStrtodWouldSkipSpacesToReadAsStrings) {
  const RoundTrip spaced = ThroughPrintConfig("listen = \" 1.5\"\n");
  ASSERT_TRUE(spaced.reapplied);
  EXPECT_EQ(spaced.first, " 1.5");
  EXPECT_EQ(spaced.second, " 1.5");
  const RoundTrip number = ThroughPrintConfig("listen = 8080\n");
  EXPECT_EQ(number.second, "8080");
}

}  // namespace
}  // namespace pneumo::app
