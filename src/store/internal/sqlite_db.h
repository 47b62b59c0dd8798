// A small RAII layer over one SQLite connection, for the account and audit stores.
//
//   auto db = SqliteDb::Open(path);                          // WAL, synchronous=FULL, 2 s busy
//   auto stmt = db->Prepare("SELECT role FROM users WHERE name = ?");
//   stmt->Bind(1, name); if (stmt->Step() == SQLITE_ROW) role = stmt->Text(0);
//
// Not thread-safe: the owning store guards the SqliteDb with its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pneumo::store::internal {

class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // 1-based parameter indices, as in SQLite. Text is copied.
  void Bind(int index, std::string_view text);
  void Bind(int index, std::int64_t value);
  int Step();  // SQLITE_ROW, SQLITE_DONE or an error code
  std::string Text(int column) const;
  std::int64_t Int(int column) const;

 private:
  sqlite3_stmt* stmt_;  // owned; finalized in the destructor
};

class SqliteDb {
 public:
  // Creates parent directories and the file as needed. kIoError when it cannot be opened.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Result<void> Exec(std::string_view sql, std::string_view operation);
  Result<std::unique_ptr<SqliteStatement>> Prepare(std::string_view sql);
  // An Error for the code `rc` of the last call: kUnavailable for BUSY/LOCKED, kIoError for I/O
  // and corruption, else kInternal; the message names `operation` and SQLite's own words.
  Error SqlError(int rc, std::string_view operation) const;
  // Steps a statement expected to finish (INSERT, UPDATE, DELETE).
  Result<void> Run(SqliteStatement& stmt, std::string_view operation);
  int Changes() const;  // rows changed by the last INSERT, UPDATE or DELETE
  const std::string& path() const { return path_; }
  // The raw connection, for a store that keeps prepared statements of its own (SqliteStore).
  sqlite3* handle() const { return db_; }

 private:
  SqliteDb(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  const std::string path_;
  sqlite3* db_;  // owned
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() was called.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db) : db_(db) {}
  ~SqliteTransaction();
  Result<void> Begin();  // IMMEDIATE: takes the write lock now, so the read-then-write is atomic
  Result<void> Commit();

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace pneumo::store::internal
