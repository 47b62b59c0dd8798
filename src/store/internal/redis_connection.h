// One Redis connection with reconnect-on-failure, shared by the result, account and audit stores.
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
  // Sends all commands, then reads all replies (one round trip). Same errors as Command; an error
  // reply to any of them fails the whole call. REQUIRES: inside Run.
  Result<std::vector<Reply>> Pipeline(const std::vector<Args>& commands,
                                      std::string_view operation);
  // The Error for an error reply that Command did not see itself (an element of EXEC's array).
  Error ReplyError(const redisReply* reply, std::string_view operation) const;

  // Runs `operation` on a live connection; when the connection turns out to be broken at the
  // operation's first command (so nothing was written), reconnects and runs it once more: the
  // usual case for the first call after Redis restarted.
  //
  // A failed operation leaves the connection open (a missing record costs no reconnect) unless a
  // transaction may still be open on it: a WATCH or MULTI was sent and no EXEC, DISCARD or
  // UNWATCH has ended it since. Then the connection is dropped, which clears the WATCH and the
  // MULTI on the server, and the next call reconnects. So an operation may return early after
  // WATCH or MULTI without cleaning up.
  template <typename T, typename Operation>
  Result<T> Run(Operation operation) {
    for (int attempt = 0;; ++attempt) {
      if (auto connected = Connect(); !connected) return std::unexpected(connected.error());
      commands_sent_ = 0;
      lost_on_first_command_ = false;
      Result<T> result = operation();
      if (!result && (watching_ || in_multi_)) Drop();
      if (result || !lost_on_first_command_ || attempt == 1) return result;
    }
  }
  std::string Describe() const;  // redis://host:port/db, no password

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  void Drop();
  // Gives kUnavailable for a connection lost during `operation`, and drops it.
  std::unexpected<Error> Lost(std::string_view operation);
  // Notes what `args`, answered by `reply`, did to the transaction state below.
  void Track(const Args& args, const redisReply* reply);

  const RedisStore::Options options_;
  const std::string address_;                              // "host:port", for messages
  std::unique_ptr<redisContext, ContextDeleter> context_;  // null when not connected
  int commands_sent_ = 0;                                  // within the current Run attempt
  bool lost_on_first_command_ = false;                     // within the current Run attempt
  // Whether a WATCH / a MULTI sent on this connection may still be in force on the server. Set by
  // the command whatever its answer, cleared only by a reply that ends it (Track) or by dropping
  // the connection; so "false" is certain, "true" may be cautious.
  bool watching_ = false;
  bool in_multi_ = false;
};

// Text of a string or status reply ("" for nil).
std::string_view ReplyText(const redisReply* reply);
bool ReplyIsNil(const redisReply* reply);
std::size_t ReplyElements(const redisReply* reply);
const redisReply* ReplyElement(const redisReply* reply, std::size_t i);
long long ReplyInteger(const redisReply* reply);

}  // namespace pneumo::store::internal
