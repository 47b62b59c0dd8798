// The embedded result store: one SQLite file in WAL mode with synchronous=FULL.
//
//   Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open("/var/lib/pneumo/results.db");
//   if (!store) return std::unexpected(store.error());
//   (*store)->Put(record);
//
// Usually reached through OpenStore("sqlite:PATH"). Several processes may open the same file;
// SQLite's locking serialises them (a lock held past the 2 s busy timeout gives kUnavailable).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "store/result_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pneumo::store {
namespace internal {
class SqliteDb;
}

// Thread-safe: one connection and its prepared statements, guarded by mu_.
class SqliteStore final : public ResultStore {
 public:
  // Creates the parent directories, the file and the schema as needed.
  // kIoError when the file cannot be created or opened or is not a database.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

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
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

  SqliteStore(std::string path, std::unique_ptr<internal::SqliteDb> connection);
  Result<void> Prepare();
  Result<void> AddOwnerColumn();     // the migration for files made before owners; REQUIRES: mu_
  Result<void> AddMissingColumns();  // REQUIRES: mu_ held
  Error SqlError(int rc, std::string_view operation) const;  // REQUIRES: mu_ held
  Result<void> StepToRowWithId(sqlite3_stmt* stmt, std::string_view id,
                               const char* reading);  // REQUIRES: mu_ held

  const std::string path_;
  mutable std::mutex mu_;
  // The connection: opened, with its pragmas, by internal::SqliteDb as the account store's is;
  // db_ is its handle, for the prepared statements below. Both GUARDED_BY(mu_).
  std::unique_ptr<internal::SqliteDb> connection_;
  sqlite3* db_;
  Statement insert_;   // GUARDED_BY(mu_)
  Statement get_;      // GUARDED_BY(mu_)
  Statement preview_;  // GUARDED_BY(mu_)
  // Counting and paging, by filter: [0] none, [1] owner, [2] accession, [3] owner and accession.
  Statement count_[4];       // GUARDED_BY(mu_)
  Statement page_[4];        // GUARDED_BY(mu_)
  Statement log_received_;   // GUARDED_BY(mu_)
  Statement list_received_;  // GUARDED_BY(mu_)
  Statement ping_;           // GUARDED_BY(mu_)
};

}  // namespace pneumo::store
