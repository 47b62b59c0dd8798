// One Redis connection with reconnect-on-failure, for the account and audit stores. (It does what
// RedisStore's private helpers do; RedisStore could move onto it.)
//
//   RedisConnection redis(options);                      // connects lazily
//   auto reply = redis.Run<std::string>([&]() -> Result<std::string> {
//     auto r = redis.Command({"GET", key}, "reading x"); ...
//   });
//
// Not thread-safe: the owning store holds its own mutex around every Run.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis_store.h"

struct redisContext;
struct redisReply;

namespace pneumo::store::internal {

class RedisConnection {
 public:
  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
  using Args = std::vector<std::string>;

  explicit RedisConnection(RedisStore::Options options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects now (AUTH, SELECT, PING) unless connected: kUnavailable when unreachable,
  // kInvalidArgument when the password is missing or wrong.
  Result<void> Connect();
  // One command (binary-safe). A broken connection is dropped and gives kUnavailable; an error
  // reply gives an Error naming `operation`. REQUIRES: inside Run.
  Result<Reply> Command(const Args& args, std::string_view operation);
  // Runs `operation` on a live connection; when the connection turns out to be broken at the
  // operation's first command (so nothing was written), reconnects and runs it once more. On any
  // failure (a duplicate, a missing record too) the connection is dropped, which clears any WATCH
  // or MULTI left open; the next call reconnects.
  template <typename T, typename Operation>
  Result<T> Run(Operation operation) {
    for (int attempt = 0;; ++attempt) {
      if (auto connected = Connect(); !connected) return std::unexpected(connected.error());
      commands_sent_ = 0;
      lost_on_first_command_ = false;
      Result<T> result = operation();
      if (!result) Drop();
      if (result || !lost_on_first_command_ || attempt == 1) return result;
    }
  }
  std::string Describe() const;  // redis://host:port/db, no password

 private:
  void Drop();
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  const RedisStore::Options options_;
  const std::string address_;
  std::unique_ptr<redisContext, ContextDeleter> context_;
  int commands_sent_ = 0;
  bool lost_on_first_command_ = false;
};

// Text of a string or status reply ("" for nil).
std::string_view ReplyText(const redisReply* reply);
bool ReplyIsNil(const redisReply* reply);
std::size_t ReplyElements(const redisReply* reply);
const redisReply* ReplyElement(const redisReply* reply, std::size_t i);
long long ReplyInteger(const redisReply* reply);

}  // namespace pneumo::store::internal
