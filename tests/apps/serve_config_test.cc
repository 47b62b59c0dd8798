// pneumo serve's settings from --config FILE and PNEUMO_* variables, through the real binary:
// the file alone configures a server, flags override the file, the environment overrides both,
// --print-config shows the merge with passwords masked, and a bad file is a clear error.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "store/redis_server.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace pneumo {
namespace {
namespace fs = std::filesystem;

struct CliRun {
  int exit_code;
  std::string out;  // stdout and stderr together
};

// The binary in a clean environment (only `env` added), so that the caller's PNEUMO_* and this
// machine's /etc/pneumo/pneumo.conf play no part: every test names its --config.
CliRun Pneumo(const std::string& env, const std::string& args) {
  const std::string command =
      "env -i PATH=/usr/bin:/bin " + env + " " + PNEUMO_BINARY + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

fs::path WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// The line of --print-config's output that sets `key`, without its origin comment; "" if none.
std::string Setting(const std::string& printed, const std::string& key) {
  std::istringstream in(printed);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key + " = ")) return line.substr(0, line.find("  # "));
  return "";
}

std::string Origin(const std::string& printed, const std::string& key) {
  std::istringstream in(printed);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key + " = ") && line.find("  # ") != std::string::npos)
      return line.substr(line.find("  # ") + 4);
  return "";
}

bool WaitForHealth(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  for (int i = 0; i < 240; ++i) {
    if (auto res = client.Get("/healthz"); res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

TEST(ServeConfig, TheFileAloneConfiguresARealServer) {
  testing::TempDir dir;
  const int port = testing::FreePort();
  const fs::path config = WriteFile(
      dir.path() / "pneumo.conf",
      "# a server from its file only\n[serve]\nlisten = \"127.0.0.1:" + std::to_string(port) +
          "\"\ndata_dir = \"" + (dir.path() / "state").string() + "\"\nmax_batch = 2\n");
  testing::ChildProcess server(
      {PNEUMO_BINARY, "serve", "--config", config.string(), "--log-level", "warn"});
  ASSERT_TRUE(WaitForHealth(port)) << "no /healthz on the file's port " << port;
  EXPECT_TRUE(fs::exists(dir.path() / "state" / "results.db")) << "the file's data_dir";
}

TEST(ServeConfig, FlagsOverrideTheFileAndTheEnvironmentOverridesBoth) {
  testing::TempDir dir;
  const fs::path config = WriteFile(dir.path() / "pneumo.conf",
                                    "max_batch = 3\nmax_queue = 40\nreview_band = 0.2\n"
                                    "web_root = \"/srv/web\"\n");
  const std::string file = config.string();

  const CliRun file_only = Pneumo("", "serve --config " + file + " --print-config");
  ASSERT_EQ(file_only.exit_code, 0) << file_only.out;
  EXPECT_EQ(Setting(file_only.out, "max_batch"), "max_batch = 3");
  EXPECT_EQ(Origin(file_only.out, "max_batch"), file + ":1");
  EXPECT_EQ(Setting(file_only.out, "web_root"), "web_root = \"/srv/web\"");
  EXPECT_EQ(Origin(file_only.out, "max_wait_ms"), "default");

  const CliRun flag = Pneumo("", "serve --config " + file + " --max-batch 5 --print-config");
  EXPECT_EQ(Setting(flag.out, "max_batch"), "max_batch = 5");
  EXPECT_EQ(Origin(flag.out, "max_batch"), "command line");
  EXPECT_EQ(Setting(flag.out, "max_queue"), "max_queue = 40") << "the file still sets the rest";

  const CliRun env = Pneumo("PNEUMO_MAX_BATCH=7 PNEUMO_MAX_QUEUE=9",
                            "serve --config " + file + " --max-batch 5 --print-config");
  ASSERT_EQ(env.exit_code, 0) << env.out;
  EXPECT_EQ(Setting(env.out, "max_batch"), "max_batch = 7") << "the environment beats the flag";
  EXPECT_EQ(Origin(env.out, "max_batch"), "$PNEUMO_MAX_BATCH, over the command line");
  EXPECT_EQ(Setting(env.out, "max_queue"), "max_queue = 9") << "and the file";
  EXPECT_EQ(Origin(env.out, "max_queue"), "$PNEUMO_MAX_QUEUE");
  EXPECT_EQ(Setting(env.out, "review_band"), "review_band = 0.2");

  const CliRun empty = Pneumo("PNEUMO_MAX_BATCH=", "serve --config " + file + " --print-config");
  EXPECT_EQ(Setting(empty.out, "max_batch"), "max_batch = 3") << "an empty variable is unset";
}

TEST(ServeConfig, PrintConfigMasksPasswordsAndReadsBackAsAConfigFile) {
  testing::TempDir dir;
  const fs::path config =
      WriteFile(dir.path() / "pneumo.conf",
                "store = \"redis://:hunter2-url@127.0.0.1:6380/0\"\nmax_wait_ms = 2.5\n");
  const CliRun printed =
      Pneumo("PNEUMO_STORE_PASSWORD=hunter2-env",
             "serve --config " + config.string() + " --http-threads 12 --print-config");
  ASSERT_EQ(printed.exit_code, 0) << printed.out;
  EXPECT_EQ(printed.out.find("hunter2"), std::string::npos) << printed.out;
  EXPECT_EQ(Setting(printed.out, "store"), "store = \"redis://:***@127.0.0.1:6380/0\"");
  EXPECT_EQ(Setting(printed.out, "store_password"), "store_password = \"***\"");
  EXPECT_NE(printed.out.find("# Most images per forward pass"), std::string::npos)
      << "each key comes with its description";

  // The output is itself a config file: read back, it gives the same settings.
  std::string without_secrets;
  std::istringstream in(printed.out);
  for (std::string line; std::getline(in, line);)
    if (!line.starts_with("store")) without_secrets += line + "\n";
  const fs::path again = WriteFile(dir.path() / "printed.conf", without_secrets);
  const CliRun reread = Pneumo("", "serve --config " + again.string() + " --print-config");
  ASSERT_EQ(reread.exit_code, 0) << reread.out;
  for (const char* key : {"listen", "max_wait_ms", "http_threads", "model", "data_dir"})
    EXPECT_EQ(Setting(reread.out, key), Setting(printed.out, key)) << key;
}

TEST(ServeConfig, TheRedisPasswordComesFromAFileAndStaysOffTheCommandLine) {
  store::testing::RedisServer redis("pw-from-file-7f3a");
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  testing::TempDir dir;
  const fs::path password = WriteFile(dir.path() / "redis-password", "pw-from-file-7f3a\n");
  const int port = testing::FreePort();
  const std::string store = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
  testing::ChildProcess server({PNEUMO_BINARY, "serve", "--listen",
                                "127.0.0.1:" + std::to_string(port), "--store", store,
                                "--store-password-file", password.string(), "--log-level", "warn"});
  ASSERT_TRUE(WaitForHealth(port));
  httplib::Client client("127.0.0.1", port);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << "the store answers with the file's password: " << ready->body;
  std::ifstream cmdline("/proc/" + std::to_string(server.pid()) + "/cmdline");
  const std::string args((std::istreambuf_iterator<char>(cmdline)), {});
  EXPECT_NE(args.find("redis-password"), std::string::npos);
  EXPECT_EQ(args.find("pw-from-file-7f3a"), std::string::npos) << "ps must not show it";

  const CliRun twice =
      Pneumo("", "serve --config /dev/null --store redis://:a@127.0.0.1:1/0 --store-password b");
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.out.find("already holds a password"), std::string::npos) << twice.out;
  const CliRun sqlite = Pneumo("",
                               "serve --config /dev/null --store sqlite:/tmp/x.db "
                               "--store-password b");
  EXPECT_EQ(sqlite.exit_code, 2);
  EXPECT_NE(sqlite.out.find("only for a redis:// store"), std::string::npos) << sqlite.out;
}

TEST(ServeConfig, ABadFileIsAnErrorNamingTheFileLineAndKey) {
  testing::TempDir dir;
  struct Case {
    std::string text;
    std::string expected;  // in the message, after "FILE:"
  };
  const Case cases[] = {
      {"max_batch = 4\n# fine so far\nmax_bach = 4\n", "3: unknown key 'max_bach' (known keys: "},
      {"listen = \"127.0.0.1:8080\"\nthis line has no equals sign\n", "2: expected key = value"},
      {"max_batch = lots\n", "1: key 'max_batch': "},
      {"listen = \"127.0.0.1:8080\n", "1: key 'listen': the quoted string is not closed"},
      {"[train]\nepochs = 3\n", "1: unknown section '[train]'"},
      {"max_batch = 4\nmax_batch = 5\n", "2: key 'max_batch' is set twice (first on line 1)"},
      {"max_batch =\n", "1: key 'max_batch': no value"},
  };
  for (const Case& c : cases) {
    const fs::path config = WriteFile(dir.path() / "bad.conf", c.text);
    const CliRun run = Pneumo("", "serve --config " + config.string() + " --print-config");
    EXPECT_EQ(run.exit_code, 2) << c.text;
    EXPECT_NE(run.out.find(config.string() + ":" + c.expected), std::string::npos)
        << "for:\n"
        << c.text << "got: " << run.out;
  }
  const CliRun missing = Pneumo("", "serve --config " + (dir.path() / "nope.conf").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("nope.conf not found"), std::string::npos) << missing.out;
  const CliRun env = Pneumo("PNEUMO_MAX_QUEUE=many", "serve --config /dev/null --print-config");
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_NE(env.out.find("environment variable PNEUMO_MAX_QUEUE"), std::string::npos) << env.out;
}

TEST(ServeConfig, ARedisWithoutAPasswordIsRefusedUnlessInsecureStoreAcceptsTheRisk) {
  store::testing::RedisServer redis;  // no requirepass: answers anyone
  const std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  const std::string store = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
  const CliRun refused = Pneumo("", "serve --config /dev/null --listen 127.0.0.1:" +
                                        std::to_string(testing::FreePort()) + " --store " + store);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find("answers commands without a password"), std::string::npos)
      << refused.out;
  EXPECT_NE(refused.out.find("--insecure-store"), std::string::npos) << refused.out;

  const int port = testing::FreePort();
  testing::ChildProcess server({PNEUMO_BINARY, "serve", "--config", "/dev/null", "--listen",
                                "127.0.0.1:" + std::to_string(port), "--store", store,
                                "--insecure-store", "--log-level", "warn"});
  ASSERT_TRUE(WaitForHealth(port)) << "--insecure-store starts the server anyway";
  httplib::Client client("127.0.0.1", port);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
}

}  // namespace
}  // namespace pneumo
