#include "store/sqlite_store.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace pneumo::store::testing
