// Model hand-off: `pneumo model publish` swaps a new model in under a running `pneumo serve`
// (which notices the directory change, or SIGHUP), under upload load, without a failed request;
// a broken model is refused and the old one keeps serving.
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "serve_fixture.h"

namespace pneumo::serve_testing {
namespace {

// A copy of the shipped model whose card says another version: the same weights, so it loads.
fs::path VersionedCopy(const fs::path& into, const std::string& version) {
  fs::create_directories(into);
  for (const auto& entry : fs::directory_iterator(ShippedModelDir()))
    if (entry.is_regular_file()) fs::copy_file(entry.path(), into / entry.path().filename());
  json card = json::parse(ReadFile(into / "card.json"));
  card["version"] = version;
  std::ofstream(into / "card.json", std::ios::trunc) << card.dump(2);
  return into;
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `pneumo model publish DIR --to TARGET`; its exit status, and its output in `output`.
int Publish(const fs::path& dir, const fs::path& target, std::string* output = nullptr) {
  const std::string command = Quote(PneumoBinary()) + " model publish " + Quote(dir.string()) +
                              " --to " + Quote(target.string()) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) text += buffer;
  const int status = ::pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ServingVersion(PneumoServer& server) {
  auto client = server.Client();
  auto res = client.Get("/api/v1/model");
  return res && res->status == 200 ? json::parse(res->body).value("version", "") : "";
}

bool WaitForVersion(PneumoServer& server, const std::string& version) {
  for (int i = 0; i < 200; ++i) {
    if (ServingVersion(server) == version) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(ModelReload, PublishingUnderLoadSwapsTheModelWithoutAFailedRequest) {
  TempDir dir;
  const fs::path target = dir.path() / "current";
  ASSERT_EQ(Publish(VersionedCopy(dir.path() / "a", "7.0.0-a"), target), 0);
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), {"--model-poll-ms", "200"});
  server.UseModel(target);
  ASSERT_EQ(server.Start(), "");
  ASSERT_EQ(ServingVersion(server), "7.0.0-a");

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::vector<std::string> versions_seen;
  std::mutex mu;
  std::thread load([&] {
    auto client = server.Client();
    for (unsigned i = 0; !stop; ++i) {
      auto res = UploadMultipart(client, "/api/v1/predictions", ChestPng(i % 7), "x.png");
      ++sent;
      if (!res || res->status != 201) {
        ++failed;
        continue;
      }
      std::lock_guard lock(mu);
      versions_seen.push_back(json::parse(res->body)["model"].value("version", ""));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(Publish(VersionedCopy(dir.path() / "b", "7.0.0-b"), target), 0);
  EXPECT_TRUE(WaitForVersion(server, "7.0.0-b")) << server.LogTail();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  load.join();
  std::printf("uploads during the swap: %d sent, %d failed\n", sent.load(), failed.load());
  EXPECT_EQ(failed.load(), 0);
  ASSERT_FALSE(versions_seen.empty());
  EXPECT_EQ(versions_seen.front(), "7.0.0-a");
  EXPECT_EQ(versions_seen.back(), "7.0.0-b") << "new predictions carry the new version";
  auto client = server.Client();
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("version=\"7.0.0-b\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("version=\"7.0.0-a\"} 0"), std::string::npos);
}

TEST(ModelReload, ABrokenModelIsRefusedAndTheOldOneKeepsServing) {
  TempDir dir;
  const fs::path target = dir.path() / "current";
  ASSERT_EQ(Publish(VersionedCopy(dir.path() / "a", "7.1.0-a"), target), 0);
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), {"--model-poll-ms", "0"});
  server.UseModel(target);
  ASSERT_EQ(server.Start(), "");

  // publish refuses it outright...
  const fs::path broken = VersionedCopy(dir.path() / "broken", "7.1.0-broken");
  for (const auto& entry :
       fs::directory_iterator(broken))  // every weights file: single or ensemble
    if (entry.path().extension() == ".pt" && entry.path().filename() != "ood.pt")
      std::ofstream(entry.path(), std::ios::app) << "corrupt";
  std::string output;
  EXPECT_NE(Publish(broken, target, &output), 0);
  EXPECT_NE(output.find("SHA-256"), std::string::npos) << output;
  // ...and a server told to reload a broken directory by hand keeps its model.
  fs::remove(target);
  fs::create_directory_symlink(broken, target);
  server.Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(ServingVersion(server), "7.1.0-a");
  EXPECT_NE(server.LogTail().find("event=model_reload_refused"), std::string::npos)
      << server.LogTail();
  auto client = server.Client();
  auto res = UploadMultipart(client, "/api/v1/predictions", ChestPng(1), "x.png");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201);

  // SIGHUP with a good model swaps it.
  fs::remove(target);
  fs::create_directory_symlink(VersionedCopy(dir.path() / "c", "7.1.0-c"), target);
  server.Signal(SIGHUP);
  EXPECT_TRUE(WaitForVersion(server, "7.1.0-c")) << server.LogTail();

  // Both reloads are in the audit trail, done by the server itself.
  auto audit = client.Get("/api/v1/audit?action=model.reload&per_page=10");
  ASSERT_TRUE(audit && audit->status == 200) << Describe(audit);
  std::vector<std::string> entries;
  const json listed = Json(audit);  // the loop below must not range over a temporary's member
  for (const auto& e : listed["items"])
    entries.push_back(e["user"].get<std::string>() + " | " + e["target_id"].get<std::string>() +
                      " | " + e["outcome"].get<std::string>());
  EXPECT_EQ(entries, (std::vector<std::string>{"server | 7.1.0-a -> 7.1.0-c (SIGHUP) | success",
                                               "server | 7.1.0-a kept (SIGHUP) | refused"}));
}

TEST(ModelReload, PublishRefusesToReplaceARealDirectory) {
  TempDir dir;
  fs::create_directories(dir.path() / "models");
  std::string output;
  EXPECT_NE(Publish(ShippedModelDir(), dir.path() / "models", &output), 0);
  EXPECT_NE(output.find("not a symlink"), std::string::npos) << output;
}

}  // namespace
}  // namespace pneumo::serve_testing
