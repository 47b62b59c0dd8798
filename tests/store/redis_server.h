// A real redis-server for tests, on a free port, persisting (appendonly, fsync always) to a
// temporary directory so that a restart keeps the data.
//
//   RedisServer redis(/*password=*/"s3cret");
//   ASSERT_EQ(redis.Start(), "");            // "" or why it could not start
//   OpenStore(redis.Url("s3cret"));
//   redis.Stop();                            // SIGKILL: an outage, not a clean shutdown
//   ASSERT_EQ(redis.Start(), "");            // same port, same data
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/redis_store.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace pneumo::store::testing {

inline constexpr char kRedisServer[] = "/usr/bin/redis-server";

using pneumo::testing::FreePort;

class RedisServer {
 public:
  explicit RedisServer(std::string password = "") : password_(std::move(password)) {}
  ~RedisServer() { Stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server (on a fresh free port the first time, the same port afterwards) and waits
  // until it answers. Returns "" on success, else what went wrong.
  std::string Start() {
    if (::access(kRedisServer, X_OK) != 0) {
      return std::string(kRedisServer) +
             " not found: install redis-server (scripts/setup.sh does); the Redis store tests "
             "were NOT run";
    }
    std::string problem;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (port_ == 0 || (attempt > 0 && !started_once_)) port_ = FreePort();
      problem = TryStart();
      if (problem.empty()) {
        started_once_ = true;
        return "";
      }
      if (started_once_) break;  // must keep the port: do not wander off
    }
    return problem;
  }

  // Kills the server with SIGKILL, as a crash or outage would; the append-only file stays.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string Url(const std::string& password, int db = 0) const {
    return "redis://" + (password.empty() ? "" : ":" + password + "@") +
           "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }

 private:
  std::string TryStart() {
    const std::string port = std::to_string(port_);
    const std::string log = (dir_ / "redis.log").string();
    std::vector<std::string> args = {kRedisServer,
                                     "--port",
                                     port,
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.path().string(),
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always",
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     log};
    if (!password_.empty()) {
      args.push_back("--requirepass");
      args.push_back(password_);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = ::posix_spawn(&pid_, kRedisServer, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return "cannot start " + std::string(kRedisServer) + ": " + std::strerror(rc);
    }
    RedisStore::Options options{.host = "127.0.0.1", .port = port_, .password = password_};
    options.timeout = std::chrono::milliseconds(500);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "redis-server exited at start on port " + port + "; its log:\n" + ReadLog();
      }
      if (auto store = RedisStore::Open(options); store && (*store)->Ping()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Stop();
    return "redis-server on port " + port + " did not answer PING within 15 s; its log:\n" +
           ReadLog();
  }

  std::string ReadLog() const {
    std::ifstream in(dir_ / "redis.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  pneumo::testing::TempDir dir_;
  std::string password_;
  int port_ = 0;
  bool started_once_ = false;
  pid_t pid_ = -1;
};

}  // namespace pneumo::store::testing
