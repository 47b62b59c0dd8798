#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

#include "store/internal/sqlite_db.h"

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
CREATE TABLE IF NOT EXISTS received_instances (
  received_at_ms INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  source TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  series_uid TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL,
  accession_number TEXT NOT NULL,
  modality TEXT NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  prediction_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS received_newest_first ON received_instances(received_at_ms DESC);
)sql";

// Added after the first release: files made before it lack the column, and get it (empty for
// their old records) when opened. Run after kSchema, on old and new files alike.
constexpr char kOwnerColumn[] = "ALTER TABLE predictions ADD COLUMN owner TEXT NOT NULL DEFAULT ''";
constexpr char kOwnerIndex[] =
    "CREATE INDEX IF NOT EXISTS predictions_by_owner ON predictions(owner, created_at_ms DESC, "
    "id DESC)";

// Run after kSchema and the column migration (the index needs the column).
constexpr char kAccessionIndex[] =
    "CREATE INDEX IF NOT EXISTS predictions_by_accession ON "
    "predictions(dicom_accession_number, created_at_ms DESC, id DESC)";

constexpr char kReceivedColumns[] =
    "received_at_ms, received_at, source, study_uid, series_uid, sop_instance_uid, sop_class_uid, "
    "accession_number, modality, outcome, reason, prediction_id";

constexpr char kBaseColumns[] =
    "id, filename, label, probability, threshold, review, model_name, model_version, sha256, "
    "created_at, created_at_ms, decode_ms, queue_ms, inference_ms, details_json, owner";
constexpr int kBaseColumnCount = 16;

// kBaseColumns, then the DICOM columns in kDicomFields order.
std::string Columns() {
  std::string columns = kBaseColumns;
  for (const auto& [name, member] : kDicomFields) columns.append(", ").append(name);
  return columns;
}
constexpr int kColumnCount = kBaseColumnCount + static_cast<int>(kDicomFields.size());

std::string Text(sqlite3_stmt* stmt, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return text ? std::string(text, sqlite3_column_bytes(stmt, column)) : std::string();
}

std::vector<std::uint8_t> Blob(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, column));
  const int size = sqlite3_column_bytes(stmt, column);
  return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
}

// Reads the Columns() columns, in order, starting at column 0.
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
  r.owner = Text(stmt, 15);
  int column = kBaseColumnCount;
  for (const auto& [name, member] : kDicomFields) r.dicom.*member = Text(stmt, column++);
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

// Binds values to a statement's parameters 1, 2, 3... in order; after the first failure it binds
// nothing more and rc() names it.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Binder& Text(std::string_view text) { return Bind(BindText(stmt_, next_, text)); }
  Binder& Double(double value) { return Bind(sqlite3_bind_double(stmt_, next_, value)); }
  Binder& Int64(std::int64_t value) { return Bind(sqlite3_bind_int64(stmt_, next_, value)); }
  Binder& Blob(const std::vector<std::uint8_t>& bytes) {
    return Bind(sqlite3_bind_blob64(stmt_, next_,
                                    bytes.empty() ? "" : static_cast<const void*>(bytes.data()),
                                    bytes.size(), SQLITE_TRANSIENT));
  }
  bool ok() const { return rc_ == SQLITE_OK; }
  int rc() const { return rc_; }

 private:
  Binder& Bind(int rc) {
    if (ok()) {
      rc_ = rc;
      next_ += 1;
    }
    return *this;
  }
  sqlite3_stmt* stmt_;
  int next_ = 1;
  int rc_ = SQLITE_OK;
};

}  // namespace

void SqliteStore::StatementDeleter::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  auto connection = internal::SqliteDb::Open(path);
  if (!connection) return std::unexpected(connection.error());
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(*connection)));
  std::lock_guard lock(store->mu_);
  if (auto prepared = store->Prepare(); !prepared) return std::unexpected(prepared.error());
  return store;
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<internal::SqliteDb> connection)
    : path_(std::move(path)), connection_(std::move(connection)), db_(connection_->handle()) {}

SqliteStore::~SqliteStore() {
  std::lock_guard lock(mu_);
  insert_.reset();
  get_.reset();
  preview_.reset();
  for (int f = 0; f < 4; ++f) {
    count_[f].reset();
    page_[f].reset();
  }
  log_received_.reset();
  list_received_.reset();
  ping_.reset();
  // connection_ closes the database after the statements are finalized.
}

Error SqliteStore::SqlError(int rc, std::string_view operation) const {
  return connection_->SqlError(rc, operation);
}

Result<void> SqliteStore::Prepare() {
  // internal::SqliteDb::Open set WAL (readers beside the writer) and synchronous=FULL (a Put that
  // returned survives power loss).
  if (int rc = sqlite3_exec(db_, kSchema, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "creating the schema"));
  }
  if (auto migrated = AddOwnerColumn(); !migrated) return migrated;
  if (auto migrated = AddMissingColumns(); !migrated) return migrated;
  if (int rc = sqlite3_exec(db_, kAccessionIndex, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "creating the accession index"));
  }
  const std::string columns = Columns();
  std::string placeholders;
  for (int i = 0; i <= kColumnCount; ++i) placeholders += i == 0 ? "?" : ",?";  // + preview
  const std::string received = kReceivedColumns;
  const std::pair<Statement*, std::string> statements[] = {
      {&insert_,
       "INSERT INTO predictions (" + columns + ", preview_jpeg) VALUES (" + placeholders + ")"},
      {&get_, "SELECT " + columns + ", preview_jpeg FROM predictions WHERE id = ?"},
      {&preview_, "SELECT preview_jpeg FROM predictions WHERE id = ?"},
      {&count_[0], "SELECT COUNT(*) FROM predictions"},
      {&page_[0], "SELECT " + columns +
                      " FROM predictions ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"},
      {&count_[1], "SELECT COUNT(*) FROM predictions WHERE owner = ?"},
      {&page_[1], "SELECT " + columns +
                      " FROM predictions WHERE owner = ? ORDER BY created_at_ms DESC, id DESC "
                      "LIMIT ? OFFSET ?"},
      {&count_[2], "SELECT COUNT(*) FROM predictions WHERE dicom_accession_number = ?"},
      {&page_[2], "SELECT " + columns +
                      " FROM predictions WHERE dicom_accession_number = ? ORDER BY "
                      "created_at_ms DESC, id DESC LIMIT ? OFFSET ?"},
      {&count_[3],
       "SELECT COUNT(*) FROM predictions WHERE owner = ? AND dicom_accession_number = ?"},
      {&page_[3], "SELECT " + columns +
                      " FROM predictions WHERE owner = ? AND dicom_accession_number = ? ORDER BY "
                      "created_at_ms DESC, id DESC LIMIT ? OFFSET ?"},
      {&log_received_,
       "INSERT INTO received_instances (" + received + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&list_received_, "SELECT " + received +
                            " FROM received_instances ORDER BY received_at_ms DESC, rowid DESC "
                            "LIMIT ?"},
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

// Files written before a column existed get it, empty, so old history stays readable: every
// DICOM column is TEXT NOT NULL DEFAULT ''. REQUIRES: mu_ held.
Result<void> SqliteStore::AddMissingColumns() {
  std::vector<std::string> existing;
  {
    sqlite3_stmt* raw = nullptr;
    if (int rc = sqlite3_prepare_v2(db_, "PRAGMA table_info(predictions)", -1, &raw, nullptr);
        rc != SQLITE_OK) {
      return std::unexpected(SqlError(rc, "reading the table layout"));
    }
    Statement info(raw);
    while (sqlite3_step(raw) == SQLITE_ROW) existing.push_back(Text(raw, 1));
  }
  for (const auto& [name, member] : kDicomFields) {
    if (std::find(existing.begin(), existing.end(), name) != existing.end()) continue;
    const std::string sql =
        std::string("ALTER TABLE predictions ADD COLUMN ") + name + " TEXT NOT NULL DEFAULT ''";
    if (int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return std::unexpected(SqlError(rc, "adding column " + std::string(name)));
    }
  }
  return {};
}

Result<void> SqliteStore::Put(const PredictionRecord& r) {
  if (r.id.empty()) return Fail(ErrorCode::kInvalidArgument, "prediction id must not be empty");
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = insert_.get();
  ResetOnExit reset(stmt);
  Binder bind(stmt);
  bind.Text(r.id).Text(r.filename).Text(r.label).Double(r.probability).Double(r.threshold);
  bind.Int64(r.review ? 1 : 0).Text(r.model_name).Text(r.model_version).Text(r.sha256);
  bind.Text(r.created_at).Int64(r.created_at_ms).Double(r.decode_ms).Double(r.queue_ms);
  bind.Double(r.inference_ms).Text(r.details_json).Text(r.owner);
  for (const auto& field : kDicomFields) bind.Text(r.dicom.*field.second);
  bind.Blob(r.preview_jpeg);
  if (!bind.ok()) return std::unexpected(SqlError(bind.rc(), "binding the prediction"));
  const int rc = sqlite3_step(stmt);
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
  record.preview_jpeg = Blob(stmt, kColumnCount);
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

Result<void> SqliteStore::Delete(std::string_view id) {
  std::lock_guard lock(mu_);
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(db_, "DELETE FROM predictions WHERE id = ?", -1, &raw, nullptr);
      rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "preparing a deletion"));
  }
  Statement remove(raw);
  if (int rc = BindText(remove.get(), 1, id); rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "binding the id"));
  }
  if (int rc = sqlite3_step(remove.get()); rc != SQLITE_DONE) {
    return std::unexpected(SqlError(rc, "deleting a prediction"));
  }
  if (sqlite3_changes(db_) == 0) {
    return Fail(ErrorCode::kNotFound, "no prediction with id '" + std::string(id) + "'");
  }
  return {};
}

Result<void> SqliteStore::AddOwnerColumn() {
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(
          db_, "SELECT 1 FROM pragma_table_info('predictions') WHERE name = 'owner'", -1, &raw,
          nullptr);
      rc != SQLITE_OK) {
    return std::unexpected(SqlError(rc, "reading the schema"));
  }
  Statement info(raw);
  const int rc = sqlite3_step(info.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return std::unexpected(SqlError(rc, "reading the schema"));
  if (rc == SQLITE_DONE) {
    if (int added = sqlite3_exec(db_, kOwnerColumn, nullptr, nullptr, nullptr);
        added != SQLITE_OK) {
      return std::unexpected(SqlError(added, "adding the owner column"));
    }
  }
  if (int indexed = sqlite3_exec(db_, kOwnerIndex, nullptr, nullptr, nullptr);
      indexed != SQLITE_OK) {
    return std::unexpected(SqlError(indexed, "indexing the owner column"));
  }
  return {};
}

Result<PredictionPage> SqliteStore::List(const ListQuery& query) {
  const int page = query.page, per_page = query.per_page;
  if (auto checked = CheckPaging(page, per_page); !checked) return std::unexpected(checked.error());
  const bool by_owner = !query.owner.empty(), by_accession = !query.accession_number.empty();
  const int filter = (by_owner ? 1 : 0) + (by_accession ? 2 : 0);  // see count_ and page_
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
    sqlite3_stmt* count = count_[filter].get();
    ResetOnExit reset(count);
    int next = 1;
    if (by_owner) BindText(count, next++, query.owner);
    if (by_accession) BindText(count, next++, query.accession_number);
    const int rc = sqlite3_step(count);
    if (rc != SQLITE_ROW) return std::unexpected(SqlError(rc, "counting predictions"));
    result.total = sqlite3_column_int64(count, 0);
  }
  sqlite3_stmt* select = page_[filter].get();
  ResetOnExit reset(select);
  int next = 1;
  if (by_owner) BindText(select, next++, query.owner);
  if (by_accession) BindText(select, next++, query.accession_number);
  sqlite3_bind_int64(select, next++, per_page);
  sqlite3_bind_int64(select, next, static_cast<std::int64_t>(page - 1) * per_page);
  int rc;
  while ((rc = sqlite3_step(select)) == SQLITE_ROW) result.items.push_back(ReadRecord(select));
  if (rc != SQLITE_DONE) return std::unexpected(SqlError(rc, "listing predictions"));
  return result;
}

Result<void> SqliteStore::LogReceived(const ReceivedInstance& r) {
  if (r.sop_instance_uid.empty())
    return Fail(ErrorCode::kInvalidArgument, "a received instance needs its SOP Instance UID");
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = log_received_.get();
  ResetOnExit reset(stmt);
  Binder bind(stmt);
  bind.Int64(r.received_at_ms);
  for (const std::string* text :
       {&r.received_at, &r.source, &r.study_instance_uid, &r.series_instance_uid,
        &r.sop_instance_uid, &r.sop_class_uid, &r.accession_number, &r.modality, &r.outcome,
        &r.reason, &r.prediction_id}) {
    bind.Text(*text);
  }
  if (!bind.ok()) return std::unexpected(SqlError(bind.rc(), "binding the received instance"));
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return std::unexpected(SqlError(rc, "logging a received instance"));
  return {};
}

Result<std::vector<ReceivedInstance>> SqliteStore::ListReceived(int limit) {
  if (auto checked = CheckPaging(1, limit); !checked) return std::unexpected(checked.error());
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = list_received_.get();
  ResetOnExit reset(stmt);
  sqlite3_bind_int64(stmt, 1, limit);
  std::vector<ReceivedInstance> log;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    ReceivedInstance r;
    r.received_at_ms = sqlite3_column_int64(stmt, 0);
    int column = 1;
    for (std::string* text :
         {&r.received_at, &r.source, &r.study_instance_uid, &r.series_instance_uid,
          &r.sop_instance_uid, &r.sop_class_uid, &r.accession_number, &r.modality, &r.outcome,
          &r.reason, &r.prediction_id}) {
      *text = Text(stmt, column++);
    }
    log.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return std::unexpected(SqlError(rc, "listing received instances"));
  return log;
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
