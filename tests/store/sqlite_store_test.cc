#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "store_contract.h"
#include "testing/temp_dir.h"

namespace pneumo::store::testing {
namespace {

struct SqliteBackend {
  static constexpr char kName[] = "Sqlite";
  pneumo::testing::TempDir dir;
  std::string Start() { return ""; }
  Result<std::unique_ptr<ResultStore>> Open() {
    return OpenStore("sqlite:" + (dir / "results.db").string());
  }
  std::string Restart() { return ""; }  // closing and reopening the file is the restart
};

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, SqliteBackend, BackendNames);

TEST(SqliteStore, CreatesParentDirectoriesAndTheFile) {
  pneumo::testing::TempDir dir;
  const auto path = dir / "nested/deeper/results.db";
  auto store = SqliteStore::Open(path.string());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ((*store)->Describe(), "sqlite:" + path.string());
}

TEST(SqliteStore, ReportsAnUncreatablePathAsIoError) {
  pneumo::testing::TempDir dir;
  std::ofstream(dir / "plain-file") << "not a directory";
  auto store = SqliteStore::Open((dir / "plain-file/results.db").string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kIoError);
  EXPECT_NE(store.error().message.find("plain-file"), std::string::npos) << store.error().message;
}

TEST(SqliteStore, ReportsAFileThatIsNotADatabaseAsIoError) {
  pneumo::testing::TempDir dir;
  std::ofstream(dir / "junk.db") << std::string(4096, 'x');
  auto store = SqliteStore::Open((dir / "junk.db").string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kIoError) << store.error().ToString();
}

TEST(SqliteStore, TwoStoresOnOneFileSeeEachOthersRecords) {
  pneumo::testing::TempDir dir;
  auto writer = SqliteStore::Open((dir / "shared.db").string());
  auto reader = SqliteStore::Open((dir / "shared.db").string());
  ASSERT_TRUE(writer && reader);
  ASSERT_TRUE((*writer)->Put(MakeRecord("x", 1)));
  auto got = (*reader)->Get("x");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->preview_jpeg, MakeRecord("x", 1).preview_jpeg);
}

// A results.db written by pneumo before DICOM support: the table without the dicom_* columns.
TEST(SqliteStore, MigratesAFileFromBeforeDicomSupport) {
  pneumo::testing::TempDir dir;
  const std::string path = (dir / "old.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* old_schema = R"sql(
      CREATE TABLE predictions (id TEXT PRIMARY KEY NOT NULL, filename TEXT NOT NULL,
        label TEXT NOT NULL, probability REAL NOT NULL, threshold REAL NOT NULL,
        review INTEGER NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
        sha256 TEXT NOT NULL, created_at TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
        decode_ms REAL NOT NULL, queue_ms REAL NOT NULL, inference_ms REAL NOT NULL,
        details_json TEXT NOT NULL DEFAULT '{}', preview_jpeg BLOB NOT NULL);
      INSERT INTO predictions VALUES ('old-1', 'a.png', 'NORMAL', 0.2, 0.5, 0, 'm', '1', 'ab',
        '2026-01-01T00:00:00.000Z', 1000, 1, 2, 3, '{}', x'ffd8');)sql";
    ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store) << store.error().ToString();
  auto old = (*store)->Get("old-1");
  ASSERT_TRUE(old) << old.error().ToString();
  EXPECT_EQ(old->label, "NORMAL");
  EXPECT_TRUE(old->dicom.empty());
  EXPECT_EQ(old->preview_jpeg, (std::vector<std::uint8_t>{0xff, 0xd8}));
  PredictionRecord fresh = MakeRecord("new-1", 2000);
  ASSERT_TRUE((*store)->Put(fresh));
  auto listed = (*store)->List(
      ListQuery{.page = 1, .per_page = 10, .accession_number = fresh.dicom.accession_number});
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->items.size(), 1u);
  ExpectSameRecord(fresh, listed->items[0], /*with_preview=*/false);
  store->reset();
  auto reopened = SqliteStore::Open(path);  // the migration runs again and finds nothing to do
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->List(1, 10)->total, 2);
}

}  // namespace
}  // namespace pneumo::store::testing
