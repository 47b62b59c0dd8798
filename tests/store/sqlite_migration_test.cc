// A results.db made before predictions had owners opens, keeps its records (owner ""), and takes
// owned records afterwards.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/result_store.h"
#include "store_contract.h"
#include "testing/temp_dir.h"

namespace pneumo::store::testing {
namespace {

// The schema as released before the owner column, with one record in it.
constexpr char kOldFile[] = R"sql(
CREATE TABLE predictions (
  id TEXT PRIMARY KEY NOT NULL, filename TEXT NOT NULL, label TEXT NOT NULL,
  probability REAL NOT NULL, threshold REAL NOT NULL, review INTEGER NOT NULL,
  model_name TEXT NOT NULL, model_version TEXT NOT NULL, sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL, created_at_ms INTEGER NOT NULL, decode_ms REAL NOT NULL,
  queue_ms REAL NOT NULL, inference_ms REAL NOT NULL, details_json TEXT NOT NULL DEFAULT '{}',
  preview_jpeg BLOB NOT NULL);
CREATE INDEX predictions_newest_first ON predictions(created_at_ms DESC, id DESC);
INSERT INTO predictions VALUES ('old1', 'x.png', 'NORMAL', 0.25, 0.5, 0, 'm', '1', 'ab',
  '2026-01-01T00:00:00.000Z', 1000, 1, 2, 3, '{}', X'FFD8');
)sql";

TEST(SqliteMigration, AFileFromBeforeOwnersGainsTheColumnAndKeepsItsRecords) {
  pneumo::testing::TempDir dir;
  const auto file = dir.path() / "results.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, kOldFile, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  for (int open = 0; open < 2; ++open) {  // the migration runs once, and opening again is fine
    auto store = OpenStore("sqlite:" + file.string());
    ASSERT_TRUE(store) << store.error().ToString();
    auto old = (*store)->Get("old1");
    ASSERT_TRUE(old) << old.error().ToString();
    EXPECT_EQ(old->owner, "");
    EXPECT_EQ(old->label, "NORMAL");
    EXPECT_EQ(old->preview_jpeg, (std::vector<std::uint8_t>{0xFF, 0xD8}));
    if (open == 0) {
      PredictionRecord owned = MakeRecord("new1", 2000);
      owned.owner = "ada";
      ASSERT_TRUE((*store)->Put(owned));
    }
    EXPECT_EQ((*store)->List(1, 10)->total, 2);
    auto ada = (*store)->ListOwnedBy("ada", 1, 10);
    ASSERT_TRUE(ada) << ada.error().ToString();
    ASSERT_EQ(ada->items.size(), 1u);
    EXPECT_EQ(ada->items[0].id, "new1");
  }
}

}  // namespace
}  // namespace pneumo::store::testing
