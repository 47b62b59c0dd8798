// The SQLite account and audit stores: tables beside `predictions` in the same file, each store
// with its own connection (SQLite's locking orders them against the prediction store's).
#include <sqlite3.h>

#include <mutex>
#include <tuple>

#include "store/internal/backends.h"
#include "store/internal/sqlite_db.h"

namespace pneumo::store::internal {
namespace {

constexpr char kAccountSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  must_change_password INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY NOT NULL,
  user TEXT NOT NULL,
  label TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_tokens_by_user ON api_tokens(user, created_at_ms DESC);
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY NOT NULL,
  user TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_at_ms);
)sql";

// The triggers refuse changes made through SQL by mistake; they are no defence against someone
// who drops them, which is what the hash chain is for.
constexpr char kAuditSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY NOT NULL,
  time_ms INTEGER NOT NULL,
  user TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  target_id TEXT NOT NULL,
  client_address TEXT NOT NULL,
  request_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log(time_ms);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
)sql";

constexpr char kUserColumns[] =
    "name, role, password_hash, disabled, must_change_password, created_at_ms";
constexpr char kTokenColumns[] =
    "id, user, label, secret_hash, created_at_ms, expires_at_ms, revoked";
constexpr char kSessionColumns[] =
    "id_hash, user, csrf_token, created_at_ms, last_seen_ms, expires_at_ms";
constexpr char kAuditColumns[] =
    "seq, time_ms, user, role, action, target_id, client_address, request_id, outcome, "
    "prev_hash, hash";

UserRecord ReadUser(const SqliteStatement& s) {
  return {.name = s.Text(0),
          .role = s.Text(1),
          .password_hash = s.Text(2),
          .disabled = s.Int(3) != 0,
          .must_change_password = s.Int(4) != 0,
          .created_at_ms = s.Int(5)};
}

TokenRecord ReadToken(const SqliteStatement& s) {
  return {.id = s.Text(0),
          .user = s.Text(1),
          .label = s.Text(2),
          .secret_hash = s.Text(3),
          .created_at_ms = s.Int(4),
          .expires_at_ms = s.Int(5),
          .revoked = s.Int(6) != 0};
}

SessionRecord ReadSession(const SqliteStatement& s) {
  return {.id_hash = s.Text(0),
          .user = s.Text(1),
          .csrf_token = s.Text(2),
          .created_at_ms = s.Int(3),
          .last_seen_ms = s.Int(4),
          .expires_at_ms = s.Int(5)};
}

AuditEntry ReadAudit(const SqliteStatement& s) {
  return {.seq = s.Int(0),
          .time_ms = s.Int(1),
          .user = s.Text(2),
          .role = s.Text(3),
          .action = s.Text(4),
          .target_id = s.Text(5),
          .client_address = s.Text(6),
          .request_id = s.Text(7),
          .outcome = s.Text(8),
          .prev_hash = s.Text(9),
          .hash = s.Text(10)};
}

bool IsConstraint(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT; }

// Thread-safe: one connection guarded by mu_.
class SqliteAccountStore final : public AccountStore {
 public:
  explicit SqliteAccountStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<void> CreateUser(const UserRecord& u) override {
    if (u.name.empty()) return Fail(ErrorCode::kInvalidArgument, "user name must not be empty");
    std::lock_guard lock(mu_);
    auto stmt =
        db_->Prepare("INSERT INTO users (" + std::string(kUserColumns) + ") VALUES (?,?,?,?,?,?)");
    if (!stmt) return std::unexpected(stmt.error());
    auto& s = **stmt;
    s.Bind(1, u.name);
    s.Bind(2, u.role);
    s.Bind(3, u.password_hash);
    s.Bind(4, std::int64_t{u.disabled});
    s.Bind(5, std::int64_t{u.must_change_password});
    s.Bind(6, u.created_at_ms);
    const int rc = s.Step();
    if (IsConstraint(rc)) {
      return Fail(ErrorCode::kInvalidArgument, "a user named '" + u.name + "' already exists");
    }
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "creating a user"));
    return {};
  }

  Result<UserRecord> GetUser(std::string_view name) override {
    std::lock_guard lock(mu_);
    return GetUserLocked(name);
  }

  Result<std::vector<UserRecord>> ListUsers() override {
    std::lock_guard lock(mu_);
    auto stmt = db_->Prepare("SELECT " + std::string(kUserColumns) + " FROM users ORDER BY name");
    if (!stmt) return std::unexpected(stmt.error());
    std::vector<UserRecord> users;
    int rc;
    while ((rc = (*stmt)->Step()) == SQLITE_ROW) users.push_back(ReadUser(**stmt));
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "listing users"));
    return users;
  }

  Result<void> UpdateUser(const UserRecord& u, bool end_credentials) override {
    std::lock_guard lock(mu_);
    SqliteTransaction transaction(*db_);
    if (auto begun = transaction.Begin(); !begun) return begun;
    auto stmt = db_->Prepare(
        "UPDATE users SET role = ?, password_hash = ?, disabled = ?, must_change_password = ? "
        "WHERE name = ?");
    if (!stmt) return std::unexpected(stmt.error());
    auto& s = **stmt;
    s.Bind(1, u.role);
    s.Bind(2, u.password_hash);
    s.Bind(3, std::int64_t{u.disabled});
    s.Bind(4, std::int64_t{u.must_change_password});
    s.Bind(5, u.name);
    if (auto ran = db_->Run(s, "updating a user"); !ran) return ran;
    if (db_->Changes() == 0) return NoSuchUser(u.name);
    if (end_credentials) {
      for (const char* sql : {"DELETE FROM sessions WHERE user = ?",
                              "UPDATE api_tokens SET revoked = 1 WHERE user = ?"}) {
        auto end = db_->Prepare(sql);
        if (!end) return std::unexpected(end.error());
        (*end)->Bind(1, u.name);
        if (auto ran = db_->Run(**end, "ending a user's sessions and tokens"); !ran) return ran;
      }
    }
    return transaction.Commit();
  }

  Result<void> CreateToken(const TokenRecord& t) override {
    if (t.id.empty()) return Fail(ErrorCode::kInvalidArgument, "token id must not be empty");
    std::lock_guard lock(mu_);
    SqliteTransaction transaction(*db_);
    if (auto begun = transaction.Begin(); !begun) return begun;
    if (auto user = GetUserLocked(t.user); !user) return std::unexpected(user.error());
    auto stmt = db_->Prepare("INSERT INTO api_tokens (" + std::string(kTokenColumns) +
                             ") VALUES (?,?,?,?,?,?,?)");
    if (!stmt) return std::unexpected(stmt.error());
    auto& s = **stmt;
    s.Bind(1, t.id);
    s.Bind(2, t.user);
    s.Bind(3, t.label);
    s.Bind(4, t.secret_hash);
    s.Bind(5, t.created_at_ms);
    s.Bind(6, t.expires_at_ms);
    s.Bind(7, std::int64_t{t.revoked});
    const int rc = s.Step();
    if (IsConstraint(rc)) {
      return Fail(ErrorCode::kInvalidArgument, "a token with id '" + t.id + "' already exists");
    }
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "creating a token"));
    return transaction.Commit();
  }

  Result<TokenRecord> GetToken(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto stmt =
        db_->Prepare("SELECT " + std::string(kTokenColumns) + " FROM api_tokens WHERE id = ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, id);
    const int rc = (*stmt)->Step();
    if (rc == SQLITE_DONE) return NoSuchToken(id);
    if (rc != SQLITE_ROW) return std::unexpected(db_->SqlError(rc, "reading a token"));
    return ReadToken(**stmt);
  }

  Result<std::vector<TokenRecord>> ListTokens(std::string_view user) override {
    std::lock_guard lock(mu_);
    auto stmt = db_->Prepare("SELECT " + std::string(kTokenColumns) +
                             " FROM api_tokens WHERE user = ? ORDER BY created_at_ms DESC, id");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, user);
    std::vector<TokenRecord> tokens;
    int rc;
    while ((rc = (*stmt)->Step()) == SQLITE_ROW) tokens.push_back(ReadToken(**stmt));
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "listing tokens"));
    return tokens;
  }

  Result<void> RevokeToken(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto stmt = db_->Prepare("UPDATE api_tokens SET revoked = 1 WHERE id = ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, id);
    if (auto ran = db_->Run(**stmt, "revoking a token"); !ran) return ran;
    if (db_->Changes() == 0) return NoSuchToken(id);
    return {};
  }

  Result<void> CreateSession(const SessionRecord& session) override {
    if (session.id_hash.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "session id must not be empty");
    }
    std::lock_guard lock(mu_);
    SqliteTransaction transaction(*db_);
    if (auto begun = transaction.Begin(); !begun) return begun;
    if (auto user = GetUserLocked(session.user); !user) return std::unexpected(user.error());
    // Forget sessions past their absolute expiry, so the table does not grow without bound.
    auto expired = db_->Prepare("DELETE FROM sessions WHERE expires_at_ms <= ?");
    if (!expired) return std::unexpected(expired.error());
    (*expired)->Bind(1, session.created_at_ms);
    if (auto ran = db_->Run(**expired, "removing expired sessions"); !ran) return ran;
    auto stmt = db_->Prepare("INSERT INTO sessions (" + std::string(kSessionColumns) +
                             ") VALUES (?,?,?,?,?,?)");
    if (!stmt) return std::unexpected(stmt.error());
    auto& s = **stmt;
    s.Bind(1, session.id_hash);
    s.Bind(2, session.user);
    s.Bind(3, session.csrf_token);
    s.Bind(4, session.created_at_ms);
    s.Bind(5, session.last_seen_ms);
    s.Bind(6, session.expires_at_ms);
    const int rc = s.Step();
    if (IsConstraint(rc)) return Fail(ErrorCode::kInvalidArgument, "session id already in use");
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "creating a session"));
    return transaction.Commit();
  }

  Result<SessionRecord> GetSession(std::string_view id_hash) override {
    std::lock_guard lock(mu_);
    auto stmt =
        db_->Prepare("SELECT " + std::string(kSessionColumns) + " FROM sessions WHERE id_hash = ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, id_hash);
    const int rc = (*stmt)->Step();
    if (rc == SQLITE_DONE) return Fail(ErrorCode::kNotFound, "no such session");
    if (rc != SQLITE_ROW) return std::unexpected(db_->SqlError(rc, "reading a session"));
    return ReadSession(**stmt);
  }

  Result<void> TouchSession(std::string_view id_hash, std::int64_t last_seen_ms) override {
    std::lock_guard lock(mu_);
    auto stmt = db_->Prepare("UPDATE sessions SET last_seen_ms = ? WHERE id_hash = ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, last_seen_ms);
    (*stmt)->Bind(2, id_hash);
    if (auto ran = db_->Run(**stmt, "touching a session"); !ran) return ran;
    if (db_->Changes() == 0) return Fail(ErrorCode::kNotFound, "no such session");
    return {};
  }

  Result<void> DeleteSession(std::string_view id_hash) override {
    std::lock_guard lock(mu_);
    auto stmt = db_->Prepare("DELETE FROM sessions WHERE id_hash = ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, id_hash);
    return db_->Run(**stmt, "deleting a session");
  }

  Result<void> Ping() override {
    std::lock_guard lock(mu_);
    return db_->Exec("SELECT 1", "ping");
  }

  std::string Describe() const override { return "sqlite:" + db_->path(); }

 private:
  static std::unexpected<Error> NoSuchUser(std::string_view name) {
    return Fail(ErrorCode::kNotFound, "no user named '" + std::string(name) + "'");
  }
  static std::unexpected<Error> NoSuchToken(std::string_view id) {
    return Fail(ErrorCode::kNotFound, "no token with id '" + std::string(id) + "'");
  }

  Result<UserRecord> GetUserLocked(std::string_view name) {  // REQUIRES: mu_ held
    auto stmt = db_->Prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE name = ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, name);
    const int rc = (*stmt)->Step();
    if (rc == SQLITE_DONE) return NoSuchUser(name);
    if (rc != SQLITE_ROW) return std::unexpected(db_->SqlError(rc, "reading a user"));
    return ReadUser(**stmt);
  }

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // GUARDED_BY(mu_)
};

// Thread-safe: one connection guarded by mu_; Append's BEGIN IMMEDIATE orders it against other
// processes appending to the same file.
class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<AuditEntry> Append(const AuditEntry& draft) override {
    if (draft.action.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "an audit entry needs an action");
    }
    std::lock_guard lock(mu_);
    SqliteTransaction transaction(*db_);
    if (auto begun = transaction.Begin(); !begun) return std::unexpected(begun.error());
    AuditEntry entry = draft;
    entry.seq = 1;
    entry.prev_hash = std::string(kAuditGenesisHash);
    {
      auto last = db_->Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
      if (!last) return std::unexpected(last.error());
      const int rc = (*last)->Step();
      if (rc == SQLITE_ROW) {
        entry.seq = (*last)->Int(0) + 1;
        entry.prev_hash = (*last)->Text(1);
      } else if (rc != SQLITE_DONE) {
        return std::unexpected(db_->SqlError(rc, "reading the last audit entry"));
      }
    }
    entry.hash = AuditEntryHash(entry);
    auto stmt = db_->Prepare("INSERT INTO audit_log (" + std::string(kAuditColumns) +
                             ") VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    if (!stmt) return std::unexpected(stmt.error());
    auto& s = **stmt;
    s.Bind(1, entry.seq);
    s.Bind(2, entry.time_ms);
    s.Bind(3, entry.user);
    s.Bind(4, entry.role);
    s.Bind(5, entry.action);
    s.Bind(6, entry.target_id);
    s.Bind(7, entry.client_address);
    s.Bind(8, entry.request_id);
    s.Bind(9, entry.outcome);
    s.Bind(10, entry.prev_hash);
    s.Bind(11, entry.hash);
    if (auto ran = db_->Run(s, "appending an audit entry"); !ran) {
      return std::unexpected(ran.error());
    }
    if (auto committed = transaction.Commit(); !committed) {
      return std::unexpected(committed.error());
    }
    return entry;
  }

  Result<AuditPage> List(const AuditFilter& filter, int page, int per_page) override {
    if (auto checked = CheckAuditPaging(page, per_page); !checked) {
      return std::unexpected(checked.error());
    }
    std::string where = " WHERE 1 = 1";
    if (!filter.user.empty()) where += " AND user = ?1";
    if (!filter.action.empty()) {
      where += filter.action.ends_with('.') ? " AND substr(action, 1, length(?2)) = ?2"
                                            : " AND action = ?2";
    }
    if (filter.since_ms != 0) where += " AND time_ms >= ?3";
    if (filter.until_ms != 0) where += " AND time_ms < ?4";
    auto bind = [&](SqliteStatement& s) {
      if (!filter.user.empty()) s.Bind(1, filter.user);
      if (!filter.action.empty()) s.Bind(2, filter.action);
      if (filter.since_ms != 0) s.Bind(3, filter.since_ms);
      if (filter.until_ms != 0) s.Bind(4, filter.until_ms);
    };
    std::lock_guard lock(mu_);
    if (auto begun = db_->Exec("BEGIN", "starting a read"); !begun) {
      return std::unexpected(begun.error());
    }
    struct EndRead {
      SqliteDb& db;
      // Ends a read-only transaction: nothing was written that a failed COMMIT could lose.
      ~EndRead() { std::ignore = db.Exec("COMMIT", "ending a read"); }
    } end_read{*db_};
    AuditPage result{.page = page, .per_page = per_page};
    auto count = db_->Prepare("SELECT COUNT(*) FROM audit_log" + where);
    if (!count) return std::unexpected(count.error());
    bind(**count);
    if (int rc = (*count)->Step(); rc != SQLITE_ROW) {
      return std::unexpected(db_->SqlError(rc, "counting audit entries"));
    }
    result.total = (*count)->Int(0);
    auto stmt = db_->Prepare("SELECT " + std::string(kAuditColumns) + " FROM audit_log" + where +
                             " ORDER BY seq DESC LIMIT ?5 OFFSET ?6");
    if (!stmt) return std::unexpected(stmt.error());
    bind(**stmt);
    (*stmt)->Bind(5, std::int64_t{per_page});
    (*stmt)->Bind(6, static_cast<std::int64_t>(page - 1) * per_page);
    int rc;
    while ((rc = (*stmt)->Step()) == SQLITE_ROW) result.items.push_back(ReadAudit(**stmt));
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "listing audit entries"));
    return result;
  }

  Result<std::vector<AuditEntry>> Scan(std::int64_t after_seq, int limit) override {
    std::lock_guard lock(mu_);
    auto stmt = db_->Prepare("SELECT " + std::string(kAuditColumns) +
                             " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, after_seq);
    (*stmt)->Bind(2, std::int64_t{limit});
    std::vector<AuditEntry> entries;
    int rc;
    while ((rc = (*stmt)->Step()) == SQLITE_ROW) entries.push_back(ReadAudit(**stmt));
    if (rc != SQLITE_DONE) return std::unexpected(db_->SqlError(rc, "reading audit entries"));
    return entries;
  }

  std::string Describe() const override { return "sqlite:" + db_->path(); }

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // GUARDED_BY(mu_)
};

Result<std::unique_ptr<SqliteDb>> OpenWithSchema(const std::string& path, const char* schema,
                                                 std::string_view what) {
  auto db = SqliteDb::Open(path);
  if (!db) return std::unexpected(db.error());
  if (auto created = (*db)->Exec(schema, what); !created) return std::unexpected(created.error());
  return db;
}

}  // namespace

Result<std::unique_ptr<AccountStore>> OpenSqliteAccountStore(const std::string& path) {
  auto db = OpenWithSchema(path, kAccountSchema, "creating the account tables");
  if (!db) return std::unexpected(db.error());
  return std::make_unique<SqliteAccountStore>(std::move(*db));
}

Result<std::unique_ptr<AuditStore>> OpenSqliteAuditStore(const std::string& path) {
  auto db = OpenWithSchema(path, kAuditSchema, "creating the audit table");
  if (!db) return std::unexpected(db.error());
  return std::make_unique<SqliteAuditStore>(std::move(*db));
}

}  // namespace pneumo::store::internal
