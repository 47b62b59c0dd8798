#include "store/internal/sqlite_db.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <tuple>

namespace pneumo::store::internal {

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void SqliteStatement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}

int SqliteStatement::Step() { return sqlite3_step(stmt_); }

std::string SqliteStatement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return text ? std::string(text, sqlite3_column_bytes(stmt_, column)) : std::string();
}

std::int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Fail(ErrorCode::kIoError, "cannot create directory " + parent.string() +
                                           " for the sqlite store: " + ec.message());
    }
  }
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Fail(ErrorCode::kIoError, "cannot open sqlite store " + path + ": " + message);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(path, raw));
  sqlite3_busy_timeout(raw, /*ms=*/2000);
  sqlite3_extended_result_codes(raw, 1);
  // WAL lets readers run beside the writer; synchronous=FULL fsyncs each commit, so that a change
  // that returned survives power loss. Every SQLite store (results, accounts, audit) opens here.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (auto done = db->Exec(pragma, pragma); !done) {
      Error error = done.error();
      if (error.code == ErrorCode::kInternal) error.code = ErrorCode::kIoError;
      return std::unexpected(error);
    }
  }
  return db;
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

Error SqliteDb::SqlError(int rc, std::string_view operation) const {
  const int primary = rc & 0xff;
  ErrorCode code = ErrorCode::kInternal;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    code = ErrorCode::kUnavailable;
  } else if (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN ||
             primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB || primary == SQLITE_READONLY ||
             primary == SQLITE_PERM) {
    code = ErrorCode::kIoError;
  }
  return Error{code, "sqlite store " + path_ + ": " + std::string(operation) +
                         " failed: " + sqlite3_errmsg(db_)};
}

Result<void> SqliteDb::Exec(std::string_view sql, std::string_view operation) {
  const std::string text(sql);
  if (int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, operation));
  }
  return {};
}

Result<std::unique_ptr<SqliteStatement>> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
      rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "preparing '" + std::string(sql) + "'"));
  }
  return std::make_unique<SqliteStatement>(raw);
}

Result<void> SqliteDb::Run(SqliteStatement& stmt, std::string_view operation) {
  if (int rc = stmt.Step(); rc != SQLITE_DONE) return std::unexpected(SqlError(rc, operation));
  return {};
}

int SqliteDb::Changes() const { return sqlite3_changes(db_); }

SqliteTransaction::~SqliteTransaction() {
  // A failed ROLLBACK leaves nothing to do here: SQLite rolls the transaction back itself when
  // the connection closes or the next BEGIN fails.
  if (open_) std::ignore = db_.Exec("ROLLBACK", "rolling back");
}

Result<void> SqliteTransaction::Begin() {
  if (auto begun = db_.Exec("BEGIN IMMEDIATE", "starting a transaction"); !begun) return begun;
  open_ = true;
  return {};
}

Result<void> SqliteTransaction::Commit() {
  if (auto done = db_.Exec("COMMIT", "committing"); !done) return done;
  open_ = false;
  return {};
}

}  // namespace pneumo::store::internal
