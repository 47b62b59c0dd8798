// What `pneumo serve` promises when things break: a 201 means the prediction is stored durably
// (kill -9 mid-stream loses none of them), and a Redis outage is a 503 store_unavailable, not a
// crash, until Redis is back; and clients that hold connections without finishing a request do
// not stop it serving the others.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "serve/serve_fixture.h"
#include "store/redis_server.h"

namespace pneumo::serve_testing {
namespace {

std::string Sha256Of(const std::string& bytes) {
  return Sha256Hex(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

TEST(CrashSafety, EveryAcknowledgedUploadSurvivesKillDashNine) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string());
  std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;

  constexpr int kThreads = 4;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;  // id -> sha256 of what was sent; guarded by mu
  std::vector<std::string> problems;                // guarded by mu
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      auto client = server.Client(std::chrono::seconds(30));
      for (unsigned i = 0; !stop; ++i) {
        const std::string png = ChestPng(100000u * (t + 1) + i, 192, 192);
        auto res = t % 2 ? UploadRaw(client, "/api/v1/predictions", png, "image/png")
                         : UploadMultipart(client, "/api/v1/predictions", png, "c.png");
        if (!res) continue;  // the server is gone (killed): nothing was acknowledged
        std::lock_guard lock(mu);
        if (res->status == 201) {
          const json body = Json(res);
          acknowledged[body.value("id", "")] = Sha256Of(png);
          if (body.value("sha256", "") != Sha256Of(png)) {
            problems.push_back("201 with the wrong sha256: " + res->body);
          }
        } else {
          problems.push_back("upload while running: " + Describe(res));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  server.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_EQ(problems, std::vector<std::string>());
  ASSERT_GT(acknowledged.size(), 0u) << "nothing was acknowledged in 2 s; server log:\n"
                                     << server.LogTail();
  EXPECT_EQ(acknowledged.count(""), 0u) << "a 201 without an id";

  problem = server.Start();
  ASSERT_EQ(problem, "") << "restart on the same store after kill -9: " << problem;
  auto client = server.Client();
  std::size_t lost = 0;
  for (const auto& [id, sha] : acknowledged) {
    auto res = client.Get(("/api/v1/predictions/" + id).c_str());
    if (!res || res->status != 200 || Json(res).value("sha256", "") != sha) {
      ++lost;
      ADD_FAILURE() << "acknowledged " << id << " but after the restart: " << Describe(res);
    }
  }
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged";
  EXPECT_GE(Total(client), static_cast<std::int64_t>(acknowledged.size()));
  // The store is usable after the crash, not just readable.
  auto res = UploadRaw(client, "/api/v1/predictions", ChestPng(7), "image/png");
  EXPECT_TRUE(res && res->status == 201) << Describe(res);
  std::cout << acknowledged.size()
            << " uploads acknowledged before kill -9, all found after restart" << std::endl;
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail() << "\n";
}

// Polls `what` every 100 ms until it is true or `deadline` passes.
bool Eventually(const std::function<bool()>& what,
                std::chrono::seconds deadline = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (what()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(CrashSafety, ARedisOutageIs503StoreUnavailableUntilRedisIsBack) {
  store::testing::RedisServer redis("pw-for-crash-tests");
  std::string problem = redis.Start();
  ASSERT_EQ(problem, "") << problem;
  // The original's /health answers its monitor (a legacy client) without a credential check,
  // which needs the store: so its own unhealthy body shows even while Redis is down.
  PneumoServer server(redis.Url("pw-for-crash-tests"), {"--legacy-clients", "127.0.0.1/32"});
  problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  auto client = server.Client();
  auto res = UploadRaw(client, "/api/v1/predictions", ChestPng(1), "image/png");
  ASSERT_TRUE(res && res->status == 201) << Describe(res);
  const std::string before_id = Json(res).value("id", "");

  redis.Stop();  // SIGKILL
  res = UploadRaw(client, "/api/v1/predictions", ChestPng(2), "image/png");
  EXPECT_TRUE(IsApiError(res, 503, "store_unavailable"));
  if (res) {
    EXPECT_EQ(res->get_header_value("Retry-After"), "5");
  }
  res = UploadMultipart(client, "/api/v1/predictions", ChestPng(3), "c.png");
  EXPECT_TRUE(IsApiError(res, 503, "store_unavailable"));
  // The original Flask routes answer in their own error shape, {"error": "<message>"}.
  res = UploadMultipart(client, "/predict", ChestPng(4), "c.png");
  EXPECT_TRUE(IsCompatError(res, 503, "the result store is unavailable.*"));
  if (res) {
    EXPECT_EQ(res->get_header_value("Retry-After"), "5");
  }
  res = client.Get("/predictions");
  EXPECT_TRUE(IsCompatError(res, 503, "the result store is unavailable.*"));
  if (res) {
    EXPECT_EQ(res->get_header_value("Retry-After"), "5");
  }
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/predictions"), 503, "store_unavailable"));
  EXPECT_TRUE(IsApiError(client.Get(("/api/v1/predictions/" + before_id).c_str()), 503,
                         "store_unavailable"));

  res = client.Get("/healthz");
  ASSERT_TRUE(res && res->status == 200) << "the server died with Redis: " << Describe(res);
  res = client.Get("/readyz");
  ASSERT_TRUE(res) << Describe(res);
  EXPECT_EQ(res->status, 503) << Describe(res);
  json body = Json(res);
  EXPECT_EQ(body.value("status", ""), "unavailable") << body;
  EXPECT_EQ(body["checks"].value("model", ""), "ok") << body;
  EXPECT_NE(body["checks"].value("store", "ok"), "ok") << body;
  EXPECT_FALSE(body["checks"].value("store", "").empty()) << body;
  res = client.Get("/health");
  ASSERT_TRUE(res) << Describe(res);
  EXPECT_EQ(res->status, 503) << Describe(res);
  body = Json(res);
  EXPECT_EQ(body.value("status", ""), "unhealthy") << body;
  EXPECT_EQ(body.value("store_connected", true), false) << body;
  EXPECT_EQ(body.value("model_loaded", false), true) << body;

  problem = redis.Start();  // same port, same append-only file
  ASSERT_EQ(problem, "") << problem;
  EXPECT_TRUE(Eventually([&] {
    auto r = client.Get("/readyz");
    return r && r->status == 200;
  })) << "/readyz did not come back to 200 within 30 s of Redis restarting";
  res = UploadRaw(client, "/api/v1/predictions", ChestPng(5), "image/png");
  EXPECT_TRUE(res && res->status == 201) << Describe(res);
  res = client.Get(("/api/v1/predictions/" + before_id).c_str());
  EXPECT_TRUE(res && res->status == 200)
      << "the prediction from before the outage: " << Describe(res);
  EXPECT_EQ(Total(client), 2) << "only the two 201 uploads may be stored";
  res = client.Get("/health");
  EXPECT_TRUE(res && res->status == 200) << Describe(res);
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail() << "\n";
}

// A slowloris: with one HTTP thread, connections that trickle their headers or send nothing
// held it (and with it the server) before pneumo had its own accept loop.
TEST(CrashSafety, ClientsThatTrickleOrIdleDoNotStopTheServer) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(),
                      {"--http-threads", "1", "--http-max-connections", "40"});
  ASSERT_EQ(server.Start(), "");
  auto open = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  };
  std::vector<int> held;
  for (int i = 0; i < 30; ++i) {
    held.push_back(open());
    if (i % 2 == 0) {
      const std::string_view part = "GET /api/v1/predictions HTTP/1.1\r\nHost: x\r\nX-A: ";
      ASSERT_EQ(::send(held.back(), part.data(), part.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(part.size()));
    }
  }
  auto client = server.Client();
  for (int i = 0; i < 3; ++i) {
    const auto asked = std::chrono::steady_clock::now();
    auto res = UploadMultipart(client, "/api/v1/predictions", ChestPng(70 + i), "slow.png");
    ASSERT_TRUE(res) << Describe(res) << server.LogTail();
    EXPECT_EQ(res->status, 201) << Describe(res);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(5));
  }
  // More connections, until the server says it has --http-max-connections open.
  std::string refusal;
  for (int i = 0; i < 20 && refusal.empty(); ++i) {
    held.push_back(open());
    pollfd p{.fd = held.back(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 300) == 1) {
      char buf[1024];
      const ssize_t n = ::recv(held.back(), buf, sizeof buf, 0);
      if (n > 0) refusal.assign(buf, static_cast<std::size_t>(n));
    }
  }
  EXPECT_EQ(refusal.rfind("HTTP/1.1 503 ", 0), 0u) << refusal;
  EXPECT_NE(refusal.find("\"code\":\"too_many_connections\""), std::string::npos) << refusal;
  EXPECT_GE(held.size(), 40u) << "refused before --http-max-connections were open";
  for (int fd : held) ::close(fd);
}

}  // namespace
}  // namespace pneumo::serve_testing
