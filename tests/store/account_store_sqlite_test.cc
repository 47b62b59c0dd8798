// The account and audit contract on SQLite, plus what only SQLite can show: the append-only
// triggers, tampering by deleting a row, and an old prediction file gaining the new tables.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "account_store_contract.h"
#include "store/result_store.h"
#include "testing/temp_dir.h"

namespace pneumo::store::testing {
namespace {

// Runs `sql` on its own connection, as someone with write access to the file would.
std::string RunSql(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open " + file.string();
  }
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  std::string problem = rc == SQLITE_OK ? "" : std::string(message ? message : "error");
  sqlite3_free(message);
  sqlite3_close(db);
  return problem;
}

struct SqliteBackend {
  static constexpr char kName[] = "Sqlite";
  pneumo::testing::TempDir dir;
  std::filesystem::path File() const { return dir.path() / "results.db"; }
  std::string Start() { return ""; }
  std::string Url() const { return "sqlite:" + File().string(); }
  std::string Restart() { return ""; }
  std::string AlterAuditOutcome(std::int64_t seq, const std::string& outcome) {
    return RunSql(File(), "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = '" +
                              outcome + "' WHERE seq = " + std::to_string(seq));
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AccountStoreContract, SqliteBackend, AccountBackendNames);

class SqliteAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto audit = OpenAuditStore(backend_.Url());
    ASSERT_TRUE(audit) << audit.error().ToString();
    audit_ = std::move(*audit);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(audit_->Append(MakeEvent("ada", "x.y", i)));
  }
  SqliteBackend backend_;
  std::unique_ptr<AuditStore> audit_;
};

TEST_F(SqliteAuditTest, RefusesUpdatesAndDeletesMadeThroughSql) {
  EXPECT_NE(RunSql(backend_.File(), "UPDATE audit_log SET user = 'eve' WHERE seq = 2")
                .find("append-only"),
            std::string::npos);
  EXPECT_NE(RunSql(backend_.File(), "DELETE FROM audit_log WHERE seq = 2").find("append-only"),
            std::string::npos);
  EXPECT_TRUE(VerifyAuditChain(*audit_)->ok);
}

TEST_F(SqliteAuditTest, VerifyNamesADeletedEntry) {
  ASSERT_EQ(RunSql(backend_.File(),
                   "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 3"),
            "");
  auto check = VerifyAuditChain(*audit_);
  ASSERT_TRUE(check);
  EXPECT_FALSE(check->ok);
  EXPECT_EQ(check->first_broken_seq, 3);
  EXPECT_NE(check->problem.find("missing"), std::string::npos) << check->problem;
}

TEST_F(SqliteAuditTest, VerifyNamesAnEntryWhoseHashWasRecomputedAfterAlteringIt) {
  // An attacker who alters entry 2 and fixes its hash still breaks entry 3's prev_hash.
  auto entries = audit_->Scan(1, 1);
  ASSERT_TRUE(entries && entries->size() == 1);
  AuditEntry forged = (*entries)[0];
  forged.user = "eve";
  forged.hash = AuditEntryHash(forged);
  ASSERT_EQ(RunSql(backend_.File(),
                   "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET "
                   "user = 'eve', hash = '" +
                       forged.hash + "' WHERE seq = 2"),
            "");
  auto check = VerifyAuditChain(*audit_);
  ASSERT_TRUE(check);
  EXPECT_FALSE(check->ok);
  EXPECT_EQ(check->first_broken_seq, 3);
}

TEST(SqliteAccountStore, SharesTheFileWithThePredictionStore) {
  pneumo::testing::TempDir dir;
  const std::string url = "sqlite:" + (dir.path() / "results.db").string();
  auto predictions = OpenStore(url);
  ASSERT_TRUE(predictions) << predictions.error().ToString();
  auto accounts = OpenAccountStore(url);
  ASSERT_TRUE(accounts) << accounts.error().ToString();
  ASSERT_TRUE((*accounts)->CreateUser(MakeUser("ada")));
  EXPECT_TRUE((*predictions)->List(1, 10)) << "the prediction store still works beside it";
  EXPECT_EQ((*accounts)->Describe(), url);
}

}  // namespace
}  // namespace pneumo::store::testing
