// The shared result store: predictions kept in Redis so several servers see one history.
//
//   auto store = RedisStore::Open({.host = "redis", .port = 6379, .password = "s3cret", .db = 0});
//   if (!store) return std::unexpected(store.error());   // kUnavailable: Redis not reachable
//   (*store)->Put(record);
//
// Usually reached through OpenStore("redis://:password@host:port/db"). Layout:
//   pneumo:prediction:<id>  hash, one field per PredictionRecord member (preview binary-safe)
//   pneumo:predictions      sorted set, member <id>, score created_at_ms
//   pneumo:predictions:owner:<name>  the same, for the records whose owner is <name>
// Durability is Redis's: run it with appendonly yes and appendfsync always (or everysec, accepting
// up to a second of loss) so that acknowledged records survive a restart.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/result_store.h"

namespace pneumo::store {
namespace internal {
class RedisConnection;  // store/internal/redis_connection.h, which needs Options from here
}  // namespace internal

// True when the Redis at host:port answers PING on a fresh connection that sent no AUTH: then
// anyone who reaches it can read every prediction, account and audit entry. `pneumo serve`
// refuses such a Redis unless told --insecure-store. kUnavailable when it cannot be reached.
Result<bool> RedisAnswersWithoutPassword(
    const std::string& host, int port, std::chrono::milliseconds timeout = std::chrono::seconds(2));

// Thread-safe: one connection guarded by mu_. A broken connection is dropped and re-opened at the
// next call, so the store recovers by itself once Redis is back; calls made while it is down
// return kUnavailable naming host:port.
class RedisStore final : public ResultStore {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password;                     // empty: no AUTH
    int db = 0;                               // SELECTed on every (re)connect
    std::chrono::milliseconds timeout{2000};  // for connecting and for each command
  };

  // Connects (AUTH, SELECT, PING) before returning, so a bad address or password shows at start-up:
  // kUnavailable when unreachable, kInvalidArgument when the password is missing or wrong.
  static Result<std::unique_ptr<RedisStore>> Open(Options options);
  ~RedisStore() override;

  Result<void> Put(const PredictionRecord& record) override;
  Result<PredictionRecord> Get(std::string_view id) override;
  Result<std::vector<std::uint8_t>> GetPreview(std::string_view id) override;
  Result<void> Delete(std::string_view id) override;
  using ResultStore::List;
  Result<PredictionPage> List(const ListQuery& query) override;
  Result<void> LogReceived(const ReceivedInstance& instance) override;
  Result<std::vector<ReceivedInstance>> ListReceived(int limit) override;
  Result<void> Ping() override;
  std::string Describe() const override;

 private:
  explicit RedisStore(Options options);

  mutable std::mutex mu_;
  // Connects, retries once after a lost connection, maps error replies; GUARDED_BY(mu_).
  std::unique_ptr<internal::RedisConnection> redis_;
};

}  // namespace pneumo::store
