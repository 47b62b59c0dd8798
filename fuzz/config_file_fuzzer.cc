// Arbitrary text as pneumo's config file (/etc/pneumo/pneumo.conf): app::ApplyConfig over a CLI11
// command declared as `pneumo serve` declares its options (string, integer with a range, number,
// flag, a CIDR list as one string; every default captured; help, config and print_config
// skipped), then
// app::FormatConfig, the --print-config output an operator may save as the next config file.
// Checks: what FormatConfig writes is itself a config file that ApplyConfig accepts, and applying
// it gives every option the same value again (the round trip --print-config promises), but for
// the password of a URL, which it masks.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "apps/pneumo/config_file.h"
#include "fuzz_check.h"

namespace {

namespace fs = std::filesystem;

struct Settings {
  std::string listen = "127.0.0.1:8080";
  int max_batch = 8;
  double max_wait_ms = 5.0;
  bool accounts = false;
  std::string networks = "127.0.0.0/8,::1/128";
  std::string log_level = "info";
  std::string store = "sqlite:pneumo-data/predictions.db";
  std::string store_password_file;
};

std::unique_ptr<CLI::App> MakeCommand(Settings& s) {
  auto app = std::make_unique<CLI::App>("fuzz", "serve");
  app->add_option("--listen", s.listen, "address:port")->capture_default_str();
  app->add_option("--max-batch", s.max_batch, "batch size")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app->add_option("--max-wait-ms", s.max_wait_ms, "batching wait")->capture_default_str();
  app->add_flag("--accounts", s.accounts, "require sessions or tokens");
  app->add_option("--metrics-networks", s.networks, "CIDR list");
  app->add_option("--store", s.store, "store URL");
  app->add_option("--store-password-file", s.store_password_file, "password file");
  app->add_option("--log-level", s.log_level, "log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  for (CLI::Option* option : app->get_options()) option->capture_default_str();
  return app;
}

// FormatConfig's lines without its header and without the "# origin" after each value.
std::vector<std::string> Values(const std::string& formatted) {
  std::vector<std::string> out;
  std::istringstream in(formatted);
  std::string line;
  std::getline(in, line);  // "# pneumo fuzz: merged settings (... FILE ...)"
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    out.push_back(line.substr(0, line.rfind("  # ")));
  }
  return out;
}

fs::path Directory() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("pneumo-config-fuzz-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pneumo::app;
  const fs::path first = Directory() / "first.conf", second = Directory() / "second.conf";
  std::ofstream(first, std::ios::binary).write(reinterpret_cast<const char*>(data), size);

  Settings a;
  auto app = MakeCommand(a);
  app->parse(std::vector<std::string>{});
  const std::set<std::string> skip = {"help", "config", "print_config"};
  const ConfigRequest request{.file = first, .required = true, .section = "serve", .skip = skip};
  auto origins = ApplyConfig(*app, request);
  if (!origins) return 0;
  const std::string formatted = FormatConfig(*app, request, *origins);
  std::ofstream(second, std::ios::binary) << formatted;

  Settings b;
  auto again = MakeCommand(b);
  again->parse(std::vector<std::string>{});
  const ConfigRequest request2{.file = second, .required = true, .section = "serve", .skip = skip};
  auto origins2 = ApplyConfig(*again, request2);
  FUZZ_CHECK(origins2.has_value(), "--print-config wrote a file that ApplyConfig refuses");
  FUZZ_CHECK(Values(FormatConfig(*again, request2, *origins2)) == Values(formatted),
             "the printed config does not give the same settings again");
  // A value that looks like a URL with a password is masked on purpose (no secrets printed).
  auto same = [](const std::string& x, const std::string& y) {
    return x == y || MaskUrlPassword(x) == y;
  };
  FUZZ_CHECK(same(a.listen, b.listen) && a.max_batch == b.max_batch && a.accounts == b.accounts &&
                 same(a.networks, b.networks) && same(a.store, b.store) &&
                 same(a.store_password_file, b.store_password_file) &&
                 same(a.log_level, b.log_level) &&
                 (a.max_wait_ms == b.max_wait_ms || a.max_wait_ms != a.max_wait_ms),
             "the printed config does not give the same values again");
  return 0;
}
