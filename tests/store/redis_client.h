// For the Redis store tests only (they link hiredis; the serve and app tests need not).
#pragma once

#include <hiredis/hiredis.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace pneumo::store::testing {

// A plain connection beside the store under test, for what the store's API can neither show (how
// many connections the server accepted) nor do (change a key behind the store's back).
//
//   RedisClient cli(redis.port());
//   const long long before = cli.ConnectionsReceived();
class RedisClient {
 public:
  explicit RedisClient(int port, const std::string& password = "")
      : context_(redisConnect("127.0.0.1", port)) {
    if (!password.empty() && ok()) Run({"AUTH", password});
  }
  ~RedisClient() { redisFree(context_); }
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  bool ok() const { return context_ != nullptr && context_->err == 0; }
  // The reply as text: a string or status as it is, an integer in decimal, an error prefixed
  // "error: ", anything else (nil, an array) empty.
  std::string Run(std::initializer_list<std::string> args) {
    if (!ok()) return "error: not connected";
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (reply == nullptr) return std::string("error: ") + context_->errstr;
    std::string text;
    if (reply->type == REDIS_REPLY_ERROR) text = "error: ";
    if (reply->type == REDIS_REPLY_INTEGER) text = std::to_string(reply->integer);
    if (reply->str != nullptr) text.append(reply->str, reply->len);
    freeReplyObject(reply);
    return text;
  }
  // INFO's total_connections_received: every connection the server ever accepted, this one too.
  long long ConnectionsReceived() {
    const std::string info = Run({"INFO", "stats"});
    const std::string field = "total_connections_received:";
    const auto at = info.find(field);
    return at == std::string::npos ? -1 : std::stoll(info.substr(at + field.size()));
  }

 private:
  redisContext* context_;
};

}  // namespace pneumo::store::testing
