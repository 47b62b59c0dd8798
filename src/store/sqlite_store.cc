#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>

namespace pneumo::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS predictions (
  id TEXT PRIMARY KEY NOT NULL,
  filename TEXT NOT NULL,
  label TEXT NOT NULL,
  probability REAL NOT NULL,
  threshold REAL NOT NULL,
  review INTEGER NOT NULL,
  model_name TEXT NOT NULL,
  model_version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  decode_ms REAL NOT NULL,
  queue_ms REAL NOT NULL,
  inference_ms REAL NOT NULL,
  details_json TEXT NOT NULL DEFAULT '{}',
  preview_jpeg BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_newest_first ON predictions(created_at_ms DESC, id DESC);
)sql";

constexpr char kColumns[] =
    "id, filename, label, probability, threshold, review, model_name, model_version, sha256, "
    "created_at, created_at_ms, decode_ms, queue_ms, inference_ms, details_json";

std::string Text(sqlite3_stmt* stmt, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return text ? std::string(text, sqlite3_column_bytes(stmt, column)) : std::string();
}

std::vector<std::uint8_t> Blob(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, column));
  const int size = sqlite3_column_bytes(stmt, column);
  return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
}

// Reads the kColumns columns, in order, starting at column 0.
PredictionRecord ReadRecord(sqlite3_stmt* stmt) {
  PredictionRecord r;
  r.id = Text(stmt, 0);
  r.filename = Text(stmt, 1);
  r.label = Text(stmt, 2);
  r.probability = sqlite3_column_double(stmt, 3);
  r.threshold = sqlite3_column_double(stmt, 4);
  r.review = sqlite3_column_int(stmt, 5) != 0;
  r.model_name = Text(stmt, 6);
  r.model_version = Text(stmt, 7);
  r.sha256 = Text(stmt, 8);
  r.created_at = Text(stmt, 9);
  r.created_at_ms = sqlite3_column_int64(stmt, 10);
  r.decode_ms = sqlite3_column_double(stmt, 11);
  r.queue_ms = sqlite3_column_double(stmt, 12);
  r.inference_ms = sqlite3_column_double(stmt, 13);
  r.details_json = Text(stmt, 14);
  return r;
}

// Resets a statement when leaving scope so the next caller finds it ready to bind.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

int BindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

}  // namespace

void SqliteStore::StatementDeleter::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Fail(ErrorCode::kIoError, "cannot create directory " + parent.string() +
                                           " for the sqlite store: " + ec.message());
    }
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Fail(ErrorCode::kIoError, "cannot open sqlite store " + path + ": " + message);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, db));
  std::lock_guard lock(store->mu_);
  sqlite3_busy_timeout(db, /*ms=*/2000);
  sqlite3_extended_result_codes(db, 1);
  if (auto prepared = store->Prepare(); !prepared) return std::unexpected(prepared.error());
  return store;
}

SqliteStore::SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

SqliteStore::~SqliteStore() {
  std::lock_guard lock(mu_);
  insert_.reset();
  get_.reset();
  preview_.reset();
  count_.reset();
  page_.reset();
  ping_.reset();
  sqlite3_close(db_);
}

Error SqliteStore::SqlError(int rc, std::string_view operation) const {
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

Result<void> SqliteStore::Prepare() {
  // WAL lets readers run beside the writer; synchronous=FULL fsyncs each commit so that a Put that
  // returned survives power loss.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (int rc = sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      Error error = SqlError(rc, pragma);
      if (error.code == ErrorCode::kInternal) error.code = ErrorCode::kIoError;
      return std::unexpected(error);
    }
  }
  if (int rc = sqlite3_exec(db_, kSchema, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "creating the schema"));
  }
  const std::string columns = kColumns;
  const std::pair<Statement*, std::string> statements[] = {
      {&insert_, "INSERT INTO predictions (" + columns +
                     ", preview_jpeg) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&get_, "SELECT " + columns + ", preview_jpeg FROM predictions WHERE id = ?"},
      {&preview_, "SELECT preview_jpeg FROM predictions WHERE id = ?"},
      {&count_, "SELECT COUNT(*) FROM predictions"},
      {&page_, "SELECT " + columns +
                   " FROM predictions ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"},
      {&ping_, "SELECT 1"},
  };
  for (const auto& [statement, sql] : statements) {
    sqlite3_stmt* raw = nullptr;
    if (int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
        rc != SQLITE_OK) {
      return std::unexpected(SqlError(rc, "preparing '" + sql + "'"));
    }
    statement->reset(raw);
  }
  return {};
}

Result<void> SqliteStore::Put(const PredictionRecord& r) {
  if (r.id.empty()) return Fail(ErrorCode::kInvalidArgument, "prediction id must not be empty");
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = insert_.get();
  ResetOnExit reset(stmt);
  // One entry per placeholder of the INSERT, in its column order (1-based). A braced list is
  // evaluated in order; after a failed bind the rest still run, harmlessly, and the first failure
  // is reported.
  const int bound[] = {
      BindText(stmt, 1, r.id),
      BindText(stmt, 2, r.filename),
      BindText(stmt, 3, r.label),
      sqlite3_bind_double(stmt, 4, r.probability),
      sqlite3_bind_double(stmt, 5, r.threshold),
      sqlite3_bind_int(stmt, 6, r.review ? 1 : 0),
      BindText(stmt, 7, r.model_name),
      BindText(stmt, 8, r.model_version),
      BindText(stmt, 9, r.sha256),
      BindText(stmt, 10, r.created_at),
      sqlite3_bind_int64(stmt, 11, r.created_at_ms),
      sqlite3_bind_double(stmt, 12, r.decode_ms),
      sqlite3_bind_double(stmt, 13, r.queue_ms),
      sqlite3_bind_double(stmt, 14, r.inference_ms),
      BindText(stmt, 15, r.details_json),
      sqlite3_bind_blob64(stmt, 16,
                          r.preview_jpeg.empty() ? "" : (const void*)r.preview_jpeg.data(),
                          r.preview_jpeg.size(), SQLITE_TRANSIENT),
  };
  for (int bind_rc : bound) {
    if (bind_rc != SQLITE_OK) return std::unexpected(SqlError(bind_rc, "binding the prediction"));
  }
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return Fail(ErrorCode::kInvalidArgument,
                "a prediction with id '" + r.id + "' is already stored");
  }
  if (rc != SQLITE_DONE) return std::unexpected(SqlError(rc, "storing the prediction"));
  return {};
}

// Binds `id` to a one-row lookup and steps to that row: kNotFound when there is none.
// REQUIRES: mu_ held and the caller's ResetOnExit on `stmt`.
Result<void> SqliteStore::StepToRowWithId(sqlite3_stmt* stmt, std::string_view id,
                                          const char* reading) {
  if (int rc = BindText(stmt, 1, id); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "binding the id"));
  }
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) {
    return Fail(ErrorCode::kNotFound, "no prediction with id '" + std::string(id) + "'");
  }
  if (rc != SQLITE_ROW) return std::unexpected(SqlError(rc, reading));
  return {};
}

Result<PredictionRecord> SqliteStore::Get(std::string_view id) {
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = get_.get();
  ResetOnExit reset(stmt);
  if (auto row = StepToRowWithId(stmt, id, "reading a prediction"); !row)
    return std::unexpected(row.error());
  PredictionRecord record = ReadRecord(stmt);
  record.preview_jpeg = Blob(stmt, 15);
  return record;
}

Result<std::vector<std::uint8_t>> SqliteStore::GetPreview(std::string_view id) {
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = preview_.get();
  ResetOnExit reset(stmt);
  if (auto row = StepToRowWithId(stmt, id, "reading a preview"); !row)
    return std::unexpected(row.error());
  return Blob(stmt, 0);
}

Result<PredictionPage> SqliteStore::List(int page, int per_page) {
  if (auto checked = CheckPaging(page, per_page); !checked) return std::unexpected(checked.error());
  std::lock_guard lock(mu_);
  // One read transaction so that total and items describe the same snapshot.
  if (int rc = sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "starting a read"));
  }
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{db_};

  PredictionPage result;
  result.page = page;
  result.per_page = per_page;
  {
    ResetOnExit reset(count_.get());
    const int rc = sqlite3_step(count_.get());
    if (rc != SQLITE_ROW) return std::unexpected(SqlError(rc, "counting predictions"));
    result.total = sqlite3_column_int64(count_.get(), 0);
  }
  sqlite3_stmt* stmt = page_.get();
  ResetOnExit reset(stmt);
  sqlite3_bind_int64(stmt, 1, per_page);
  sqlite3_bind_int64(stmt, 2, static_cast<std::int64_t>(page - 1) * per_page);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) result.items.push_back(ReadRecord(stmt));
  if (rc != SQLITE_DONE) return std::unexpected(SqlError(rc, "listing predictions"));
  return result;
}

Result<void> SqliteStore::Ping() {
  std::lock_guard lock(mu_);
  ResetOnExit reset(ping_.get());
  if (int rc = sqlite3_step(ping_.get()); rc != SQLITE_ROW) {
    return std::unexpected(SqlError(rc, "ping"));
  }
  return {};
}

std::string SqliteStore::Describe() const { return "sqlite:" + path_; }

}  // namespace pneumo::store
