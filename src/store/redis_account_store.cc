// The Redis account and audit stores. Layout (beside RedisStore's pneumo:prediction* keys):
//   pneumo:user:<name>            hash of UserRecord fields;  pneumo:users  set of names
//   pneumo:token:<id>             hash of TokenRecord fields; pneumo:user-tokens:<name>  set of ids
//   pneumo:session:<id_hash>      hash of SessionRecord fields, expiring (PEXPIREAT) at its
//                                 absolute expiry;            pneumo:user-sessions:<name>  set
//   pneumo:audit                  list, element i = entry seq i+1 in AuditRecordEncoding
// Changes that touch several keys are WATCH/MULTI/EXEC transactions, so two servers (or a server
// and the CLI) sharing one Redis never see half of one.
#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>

#include "store/internal/backends.h"
#include "store/internal/redis_connection.h"

namespace pneumo::store::internal {
namespace {

using Args = RedisConnection::Args;
using Fields = std::map<std::string, std::string>;

constexpr char kUsersKey[] = "pneumo:users";
constexpr char kAuditKey[] = "pneumo:audit";
std::string UserKey(std::string_view name) { return "pneumo:user:" + std::string(name); }
std::string TokenKey(std::string_view id) { return "pneumo:token:" + std::string(id); }
std::string SessionKey(std::string_view h) { return "pneumo:session:" + std::string(h); }
std::string UserTokensKey(std::string_view name) {
  return "pneumo:user-tokens:" + std::string(name);
}
std::string UserSessionsKey(std::string_view name) {
  return "pneumo:user-sessions:" + std::string(name);
}

std::int64_t ToInt(const std::string& text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Fields ToFields(const redisReply* reply) {
  Fields fields;
  const std::size_t n = ReplyElements(reply);
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    fields.emplace(ReplyText(ReplyElement(reply, i)), ReplyText(ReplyElement(reply, i + 1)));
  }
  return fields;
}

Args UserHset(const UserRecord& u) {
  return {"HSET",
          UserKey(u.name),
          "name",
          u.name,
          "role",
          u.role,
          "password_hash",
          u.password_hash,
          "disabled",
          u.disabled ? "1" : "0",
          "must_change_password",
          u.must_change_password ? "1" : "0"};
}

UserRecord UserFrom(Fields f) {
  return {.name = f["name"],
          .role = f["role"],
          .password_hash = f["password_hash"],
          .disabled = f["disabled"] == "1",
          .must_change_password = f["must_change_password"] == "1",
          .created_at_ms = ToInt(f["created_at_ms"])};
}

TokenRecord TokenFrom(Fields f) {
  return {.id = f["id"],
          .user = f["user"],
          .label = f["label"],
          .secret_hash = f["secret_hash"],
          .created_at_ms = ToInt(f["created_at_ms"]),
          .expires_at_ms = ToInt(f["expires_at_ms"]),
          .revoked = f["revoked"] == "1"};
}

SessionRecord SessionFrom(Fields f) {
  return {.id_hash = f["id_hash"],
          .user = f["user"],
          .csrf_token = f["csrf_token"],
          .created_at_ms = ToInt(f["created_at_ms"]),
          .last_seen_ms = ToInt(f["last_seen_ms"]),
          .expires_at_ms = ToInt(f["expires_at_ms"])};
}

std::unexpected<Error> NoSuchUser(std::string_view name) {
  return Fail(ErrorCode::kNotFound, "no user named '" + std::string(name) + "'");
}
std::unexpected<Error> NoSuchToken(std::string_view id) {
  return Fail(ErrorCode::kNotFound, "no token with id '" + std::string(id) + "'");
}

// EXEC's reply: nil when a WATCHed key changed (the caller decides: retry or report).
Result<bool> Exec(RedisConnection& redis, std::string_view operation) {
  auto exec = redis.Command({"EXEC"}, operation);
  if (!exec) return std::unexpected(exec.error());
  return !ReplyIsNil(exec->get());
}

Result<bool> Exists(RedisConnection& redis, const std::string& key, std::string_view operation) {
  auto reply = redis.Command({"EXISTS", key}, operation);
  if (!reply) return std::unexpected(reply.error());
  return ReplyInteger(reply->get()) != 0;
}

Result<std::vector<std::string>> Members(RedisConnection& redis, const std::string& key) {
  auto reply = redis.Command({"SMEMBERS", key}, "reading a set");
  if (!reply) return std::unexpected(reply.error());
  std::vector<std::string> members;
  members.reserve(ReplyElements(reply->get()));
  for (std::size_t i = 0; i < ReplyElements(reply->get()); ++i) {
    members.emplace_back(ReplyText(ReplyElement(reply->get(), i)));
  }
  return members;
}

// Runs `queue` (which issues commands after MULTI) inside WATCH keys / MULTI / EXEC, retrying a
// few times when a watched key changed under it. `check` runs after WATCH, before MULTI, and may
// fail the whole operation (e.g. a duplicate).
template <typename Check, typename Queue>
Result<void> Transaction(RedisConnection& redis, const Args& watched, std::string_view operation,
                         Check check, Queue queue) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    Args watch = {"WATCH"};
    watch.insert(watch.end(), watched.begin(), watched.end());
    if (auto w = redis.Command(watch, "WATCH"); !w) return std::unexpected(w.error());
    if (auto checked = check(); !checked) return checked;
    if (auto m = redis.Command({"MULTI"}, "MULTI"); !m) return std::unexpected(m.error());
    if (auto queued = queue(); !queued) return queued;
    auto done = Exec(redis, operation);
    if (!done) return std::unexpected(done.error());
    if (*done) return {};
  }
  return Fail(ErrorCode::kUnavailable,
              std::string(operation) + ": the records kept changing under it; try again");
}

// Thread-safe: one connection guarded by mu_.
class RedisAccountStore final : public AccountStore {
 public:
  explicit RedisAccountStore(RedisStore::Options options) : redis_(std::move(options)) {}

  Result<void> Connect() {
    std::lock_guard lock(mu_);
    return redis_.Connect();
  }

  Result<void> CreateUser(const UserRecord& u) override {
    if (u.name.empty()) return Fail(ErrorCode::kInvalidArgument, "user name must not be empty");
    std::lock_guard lock(mu_);
    const std::string key = UserKey(u.name);
    return redis_.Run<void>([&] {
      return Transaction(
          redis_, {key}, "creating a user",
          [&]() -> Result<void> {
            auto exists = Exists(redis_, key, "checking for a duplicate user");
            if (!exists) return std::unexpected(exists.error());
            if (*exists) {
              return Fail(ErrorCode::kInvalidArgument,
                          "a user named '" + u.name + "' already exists");
            }
            return {};
          },
          [&]() -> Result<void> {
            Args hset = UserHset(u);
            hset.insert(hset.end(), {"created_at_ms", std::to_string(u.created_at_ms)});
            for (const Args& args : {hset, Args{"SADD", kUsersKey, u.name}}) {
              if (auto q = redis_.Command(args, "queueing"); !q) return std::unexpected(q.error());
            }
            return {};
          });
    });
  }

  Result<UserRecord> GetUser(std::string_view name) override {
    std::lock_guard lock(mu_);
    return redis_.Run<UserRecord>([&] { return GetUserLocked(name); });
  }

  Result<std::vector<UserRecord>> ListUsers() override {
    std::lock_guard lock(mu_);
    return redis_.Run<std::vector<UserRecord>>([&]() -> Result<std::vector<UserRecord>> {
      auto names = Members(redis_, kUsersKey);
      if (!names) return std::unexpected(names.error());
      std::sort(names->begin(), names->end());
      std::vector<UserRecord> users;
      for (const std::string& name : *names) {
        auto user = GetUserLocked(name);
        if (!user) return std::unexpected(user.error());
        users.push_back(std::move(*user));
      }
      return users;
    });
  }

  Result<void> UpdateUser(const UserRecord& u, bool end_credentials) override {
    std::lock_guard lock(mu_);
    const std::string key = UserKey(u.name);
    const std::string tokens_key = UserTokensKey(u.name);
    const std::string sessions_key = UserSessionsKey(u.name);
    return redis_.Run<void>([&] {
      std::vector<std::string> tokens, sessions;
      return Transaction(
          redis_, {key, tokens_key, sessions_key}, "updating a user",
          [&]() -> Result<void> {
            auto exists = Exists(redis_, key, "reading a user");
            if (!exists) return std::unexpected(exists.error());
            if (!*exists) return NoSuchUser(u.name);
            if (!end_credentials) return {};
            auto t = Members(redis_, tokens_key);
            if (!t) return std::unexpected(t.error());
            auto s = Members(redis_, sessions_key);
            if (!s) return std::unexpected(s.error());
            tokens = std::move(*t);
            sessions = std::move(*s);
            return {};
          },
          [&]() -> Result<void> {
            std::vector<Args> commands = {UserHset(u)};
            if (end_credentials) {
              for (const auto& id : tokens) {
                commands.push_back({"HSET", TokenKey(id), "revoked", "1"});
              }
              for (const auto& h : sessions) commands.push_back({"DEL", SessionKey(h)});
              commands.push_back({"DEL", sessions_key});
            }
            for (const Args& args : commands) {
              if (auto q = redis_.Command(args, "queueing"); !q) return std::unexpected(q.error());
            }
            return {};
          });
    });
  }

  Result<void> CreateToken(const TokenRecord& t) override {
    if (t.id.empty()) return Fail(ErrorCode::kInvalidArgument, "token id must not be empty");
    std::lock_guard lock(mu_);
    const std::string user_key = UserKey(t.user), key = TokenKey(t.id);
    return redis_.Run<void>([&] {
      return Transaction(
          redis_, {user_key, key}, "creating a token",
          [&]() -> Result<void> {
            auto user = Exists(redis_, user_key, "reading a user");
            if (!user) return std::unexpected(user.error());
            if (!*user) return NoSuchUser(t.user);
            auto taken = Exists(redis_, key, "checking for a duplicate token");
            if (!taken) return std::unexpected(taken.error());
            if (*taken) {
              return Fail(ErrorCode::kInvalidArgument,
                          "a token with id '" + t.id + "' already exists");
            }
            return {};
          },
          [&]() -> Result<void> {
            const Args hset = {"HSET",
                               key,
                               "id",
                               t.id,
                               "user",
                               t.user,
                               "label",
                               t.label,
                               "secret_hash",
                               t.secret_hash,
                               "created_at_ms",
                               std::to_string(t.created_at_ms),
                               "expires_at_ms",
                               std::to_string(t.expires_at_ms),
                               "revoked",
                               t.revoked ? "1" : "0"};
            for (const Args& args : {hset, Args{"SADD", UserTokensKey(t.user), t.id}}) {
              if (auto q = redis_.Command(args, "queueing"); !q) return std::unexpected(q.error());
            }
            return {};
          });
    });
  }

  Result<TokenRecord> GetToken(std::string_view id) override {
    std::lock_guard lock(mu_);
    return redis_.Run<TokenRecord>([&] { return GetTokenLocked(id); });
  }

  Result<std::vector<TokenRecord>> ListTokens(std::string_view user) override {
    std::lock_guard lock(mu_);
    return redis_.Run<std::vector<TokenRecord>>([&]() -> Result<std::vector<TokenRecord>> {
      auto ids = Members(redis_, UserTokensKey(user));
      if (!ids) return std::unexpected(ids.error());
      std::vector<TokenRecord> tokens;
      for (const std::string& id : *ids) {
        auto token = GetTokenLocked(id);
        if (!token) return std::unexpected(token.error());
        tokens.push_back(std::move(*token));
      }
      std::sort(tokens.begin(), tokens.end(), [](const TokenRecord& a, const TokenRecord& b) {
        return a.created_at_ms != b.created_at_ms ? a.created_at_ms > b.created_at_ms : a.id < b.id;
      });
      return tokens;
    });
  }

  Result<void> RevokeToken(std::string_view id) override {
    std::lock_guard lock(mu_);
    return redis_.Run<void>([&]() -> Result<void> {
      // Tokens are never deleted, so a token that exists now still exists at the HSET.
      auto exists = Exists(redis_, TokenKey(id), "reading a token");
      if (!exists) return std::unexpected(exists.error());
      if (!*exists) return NoSuchToken(id);
      auto set = redis_.Command({"HSET", TokenKey(id), "revoked", "1"}, "revoking a token");
      if (!set) return std::unexpected(set.error());
      return {};
    });
  }

  Result<void> CreateSession(const SessionRecord& s) override {
    if (s.id_hash.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "session id must not be empty");
    }
    std::lock_guard lock(mu_);
    const std::string user_key = UserKey(s.user), key = SessionKey(s.id_hash);
    const std::string sessions_key = UserSessionsKey(s.user);
    return redis_.Run<void>([&] {
      std::vector<std::string> stale;
      return Transaction(
          redis_, {user_key, key, sessions_key}, "creating a session",
          [&]() -> Result<void> {
            auto user = Exists(redis_, user_key, "reading a user");
            if (!user) return std::unexpected(user.error());
            if (!*user) return NoSuchUser(s.user);
            auto taken = Exists(redis_, key, "checking for a duplicate session");
            if (!taken) return std::unexpected(taken.error());
            if (*taken) return Fail(ErrorCode::kInvalidArgument, "session id already in use");
            // Sessions that expired on their own leave their id in the user's set: prune them.
            auto members = Members(redis_, sessions_key);
            if (!members) return std::unexpected(members.error());
            for (const auto& h : *members) {
              auto alive = Exists(redis_, SessionKey(h), "reading a session");
              if (!alive) return std::unexpected(alive.error());
              if (!*alive) stale.push_back(h);
            }
            return {};
          },
          [&]() -> Result<void> {
            std::vector<Args> commands = {
                {"HSET", key, "id_hash", s.id_hash, "user", s.user, "csrf_token", s.csrf_token,
                 "created_at_ms", std::to_string(s.created_at_ms), "last_seen_ms",
                 std::to_string(s.last_seen_ms), "expires_at_ms", std::to_string(s.expires_at_ms)},
                {"PEXPIREAT", key, std::to_string(s.expires_at_ms)},
                {"SADD", sessions_key, s.id_hash}};
            if (!stale.empty()) {
              Args srem = {"SREM", sessions_key};
              srem.insert(srem.end(), stale.begin(), stale.end());
              commands.push_back(std::move(srem));
            }
            for (const Args& args : commands) {
              if (auto q = redis_.Command(args, "queueing"); !q) return std::unexpected(q.error());
            }
            return {};
          });
    });
  }

  Result<SessionRecord> GetSession(std::string_view id_hash) override {
    std::lock_guard lock(mu_);
    return redis_.Run<SessionRecord>([&]() -> Result<SessionRecord> {
      auto reply = redis_.Command({"HGETALL", SessionKey(id_hash)}, "reading a session");
      if (!reply) return std::unexpected(reply.error());
      if (ReplyElements(reply->get()) == 0) return Fail(ErrorCode::kNotFound, "no such session");
      return SessionFrom(ToFields(reply->get()));
    });
  }

  Result<void> TouchSession(std::string_view id_hash, std::int64_t last_seen_ms) override {
    std::lock_guard lock(mu_);
    const std::string key = SessionKey(id_hash);
    return redis_.Run<void>([&]() -> Result<void> {
      // WATCH so that a logout between EXISTS and HSET cannot leave a half session behind. When
      // EXEC is aborted another request touched or ended the session: either way nothing to do.
      if (auto w = redis_.Command({"WATCH", key}, "WATCH"); !w) return std::unexpected(w.error());
      auto exists = Exists(redis_, key, "reading a session");
      if (!exists) return std::unexpected(exists.error());
      if (!*exists) return Fail(ErrorCode::kNotFound, "no such session");
      for (const Args& args :
           {Args{"MULTI"}, Args{"HSET", key, "last_seen_ms", std::to_string(last_seen_ms)}}) {
        if (auto q = redis_.Command(args, "touching a session"); !q) {
          return std::unexpected(q.error());
        }
      }
      auto done = Exec(redis_, "touching a session");
      if (!done) return std::unexpected(done.error());
      return {};
    });
  }

  Result<void> DeleteSession(std::string_view id_hash) override {
    std::lock_guard lock(mu_);
    const std::string key = SessionKey(id_hash);
    return redis_.Run<void>([&]() -> Result<void> {
      auto user = redis_.Command({"HGET", key, "user"}, "reading a session");
      if (!user) return std::unexpected(user.error());
      if (ReplyIsNil(user->get())) return {};
      const std::string name(ReplyText(user->get()));
      for (const Args& args : {Args{"MULTI"}, Args{"DEL", key},
                               Args{"SREM", UserSessionsKey(name), std::string(id_hash)}}) {
        if (auto q = redis_.Command(args, "deleting a session"); !q) {
          return std::unexpected(q.error());
        }
      }
      auto done = Exec(redis_, "deleting a session");
      if (!done) return std::unexpected(done.error());
      return {};
    });
  }

  Result<void> Ping() override {
    std::lock_guard lock(mu_);
    return redis_.Run<void>([&]() -> Result<void> {
      if (auto p = redis_.Command({"PING"}, "PING"); !p) return std::unexpected(p.error());
      return {};
    });
  }

  std::string Describe() const override { return redis_.Describe(); }

 private:
  Result<UserRecord> GetUserLocked(std::string_view name) {
    auto reply = redis_.Command({"HGETALL", UserKey(name)}, "reading a user");
    if (!reply) return std::unexpected(reply.error());
    if (ReplyElements(reply->get()) == 0) return NoSuchUser(name);
    return UserFrom(ToFields(reply->get()));
  }

  Result<TokenRecord> GetTokenLocked(std::string_view id) {
    auto reply = redis_.Command({"HGETALL", TokenKey(id)}, "reading a token");
    if (!reply) return std::unexpected(reply.error());
    if (ReplyElements(reply->get()) == 0) return NoSuchToken(id);
    return TokenFrom(ToFields(reply->get()));
  }

  std::mutex mu_;
  RedisConnection redis_;  // GUARDED_BY(mu_)
};

// Thread-safe: one connection guarded by mu_. Append is optimistic: WATCH the list, read its last
// entry, push the next one in MULTI/EXEC, and start over when another writer got in first.
class RedisAuditStore final : public AuditStore {
 public:
  explicit RedisAuditStore(RedisStore::Options options) : redis_(std::move(options)) {}

  Result<void> Connect() {
    std::lock_guard lock(mu_);
    return redis_.Connect();
  }

  Result<AuditEntry> Append(const AuditEntry& draft) override {
    if (draft.action.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "an audit entry needs an action");
    }
    std::lock_guard lock(mu_);
    return redis_.Run<AuditEntry>([&]() -> Result<AuditEntry> {
      for (int attempt = 0; attempt < 100; ++attempt) {
        AuditEntry entry = draft;
        if (auto w = redis_.Command({"WATCH", kAuditKey}, "WATCH"); !w) {
          return std::unexpected(w.error());
        }
        auto length = redis_.Command({"LLEN", kAuditKey}, "reading the audit log's length");
        if (!length) return std::unexpected(length.error());
        entry.seq = ReplyInteger(length->get()) + 1;
        entry.prev_hash = std::string(kAuditGenesisHash);
        if (entry.seq > 1) {
          auto last = redis_.Command({"LINDEX", kAuditKey, "-1"}, "reading the last audit entry");
          if (!last) return std::unexpected(last.error());
          // A damaged last entry still chains on to whatever hash it shows; verify reports it.
          entry.prev_hash = DecodeAuditRecord(ReplyText(last->get()), entry.seq - 1).hash;
        }
        entry.hash = AuditEntryHash(entry);
        for (const Args& args :
             {Args{"MULTI"}, Args{"RPUSH", kAuditKey, EncodeAuditRecord(entry)}}) {
          if (auto q = redis_.Command(args, "appending an audit entry"); !q) {
            return std::unexpected(q.error());
          }
        }
        auto done = Exec(redis_, "appending an audit entry");
        if (!done) return std::unexpected(done.error());
        if (*done) return entry;
      }
      return Fail(ErrorCode::kUnavailable, "appending an audit entry: too many concurrent writers");
    });
  }

  Result<AuditPage> List(const AuditFilter& filter, int page, int per_page) override {
    if (auto checked = CheckAuditPaging(page, per_page); !checked) {
      return std::unexpected(checked.error());
    }
    std::lock_guard lock(mu_);
    return redis_.Run<AuditPage>([&]() -> Result<AuditPage> {
      AuditPage result{.page = page, .per_page = per_page};
      auto length = redis_.Command({"LLEN", kAuditKey}, "reading the audit log's length");
      if (!length) return std::unexpected(length.error());
      const std::int64_t n = ReplyInteger(length->get());
      const std::int64_t skip = static_cast<std::int64_t>(page - 1) * per_page;
      // Newest first, a chunk at a time from the end; the filter runs here (the log has no
      // secondary indexes), so a filtered listing reads the whole log.
      constexpr std::int64_t kChunk = 1000;
      for (std::int64_t end = n - 1; end >= 0; end -= kChunk) {
        const std::int64_t start = std::max<std::int64_t>(0, end - kChunk + 1);
        auto chunk = redis_.Command(
            {"LRANGE", kAuditKey, std::to_string(start), std::to_string(end)}, "listing audit");
        if (!chunk) return std::unexpected(chunk.error());
        for (std::size_t i = ReplyElements(chunk->get()); i-- > 0;) {
          AuditEntry entry = DecodeAuditRecord(ReplyText(ReplyElement(chunk->get(), i)),
                                               start + static_cast<std::int64_t>(i) + 1);
          if (!filter.Matches(entry)) continue;
          if (result.total >= skip && result.total < skip + per_page) {
            result.items.push_back(std::move(entry));
          }
          ++result.total;
        }
      }
      return result;
    });
  }

  Result<std::vector<AuditEntry>> Scan(std::int64_t after_seq, int limit) override {
    std::lock_guard lock(mu_);
    return redis_.Run<std::vector<AuditEntry>>([&]() -> Result<std::vector<AuditEntry>> {
      std::vector<AuditEntry> entries;
      if (limit <= 0) return entries;
      auto chunk = redis_.Command(
          {"LRANGE", kAuditKey, std::to_string(after_seq), std::to_string(after_seq + limit - 1)},
          "reading audit entries");
      if (!chunk) return std::unexpected(chunk.error());
      for (std::size_t i = 0; i < ReplyElements(chunk->get()); ++i) {
        entries.push_back(DecodeAuditRecord(ReplyText(ReplyElement(chunk->get(), i)),
                                            after_seq + static_cast<std::int64_t>(i) + 1));
      }
      return entries;
    });
  }

  std::string Describe() const override { return redis_.Describe(); }

 private:
  std::mutex mu_;
  RedisConnection redis_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<AccountStore>> OpenRedisAccountStore(RedisStore::Options options) {
  auto store = std::make_unique<RedisAccountStore>(std::move(options));
  if (auto connected = store->Connect(); !connected) return std::unexpected(connected.error());
  return store;
}

Result<std::unique_ptr<AuditStore>> OpenRedisAuditStore(RedisStore::Options options) {
  auto store = std::make_unique<RedisAuditStore>(std::move(options));
  if (auto connected = store->Connect(); !connected) return std::unexpected(connected.error());
  return store;
}

}  // namespace pneumo::store::internal
