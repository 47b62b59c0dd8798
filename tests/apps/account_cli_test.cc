// pneumo user / token / audit as real processes against real stores: exit codes, the last line
// of stdout, clear messages on stderr, and the stores' contents checked through the library.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "auth/account_service.h"
#include "store/redis_server.h"
#include "testing/temp_dir.h"

namespace pneumo {
namespace {
namespace fs = std::filesystem;

struct CliRun {
  int exit_code;
  std::string out, err;
  std::string LastLine() const {
    std::string text = out;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    const auto nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
  }
};

class AccountCliTest : public ::testing::Test {
 protected:
  std::string Url() const { return "sqlite:" + (dir_.path() / "results.db").string(); }

  // Runs `pneumo <args> --store <Url()>` (unless `with_store` is false).
  CliRun Pneumo(const std::string& args, bool with_store = true, const std::string& env = "") {
    const fs::path err_file = dir_.path() / "stderr.txt";
    const std::string command = env + " " + PNEUMO_BINARY + " " + args +
                                (with_store ? " --store " + Url() : "") + " 2>" + err_file.string();
    FILE* pipe = popen(command.c_str(), "r");
    CliRun run{};
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) run.out.append(buf, n);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_file);
    std::stringstream err;
    err << in.rdbuf();
    run.err = err.str();
    return run;
  }

  // The library's view of the same store, for checking what the CLI did.
  auth::AccountService& Service() {
    if (!service_) {
      accounts_ = std::move(*store::OpenAccountStore(Url()));
      audit_ = std::move(*store::OpenAuditStore(Url()));
      auth::AccountOptions options;
      options.hashing = auth::PasswordHashing::ForTestsOnly();
      service_ = std::make_unique<auth::AccountService>(*accounts_, *audit_, options);
    }
    return *service_;
  }

  std::string AddUser(const std::string& name, const std::string& role = "doctor") {
    const CliRun run = Pneumo("user add " + name + " --role " + role);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.LastLine();
  }

  std::string Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open((dir_.path() / "results.db").c_str(), &db);
    char* message = nullptr;
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    std::string problem = message ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    return problem;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::AccountStore> accounts_;
  std::unique_ptr<store::AuditStore> audit_;
  std::unique_ptr<auth::AccountService> service_;
  const auth::RequestInfo request_{.client_address = "127.0.0.1"};
};

TEST_F(AccountCliTest, UserAddPrintsAOneTimePasswordThatMustBeChanged) {
  const std::string otp = AddUser("ada", "admin");
  EXPECT_EQ(otp.size(), 20u) << otp;
  auto session = Service().Login("ada", otp, request_);
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_EQ(session->principal.role, auth::Role::kAdmin);
  EXPECT_TRUE(session->principal.must_change_password);
}

TEST_F(AccountCliTest, UserAddRefusesBadInputWithAClearMessage) {
  AddUser("ada");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{{"user add ada --role doctor", "already exists"},
                                         {"user add bob --role root", "doctor or admin"},
                                         {"user add 'b b' --role doctor", "user name"}}) {
    const CliRun run = Pneumo(c.args);
    EXPECT_EQ(run.exit_code, 1) << c.args;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << c.args << ": " << run.err;
    EXPECT_TRUE(run.out.empty()) << "no password printed on failure";
  }
  EXPECT_NE(Pneumo("user add bob").exit_code, 0) << "--role is required";
}

TEST_F(AccountCliTest, UserAddOnlyIfNoUsersCreatesTheFirstAdminOnce) {
  const CliRun first = Pneumo("user add admin --role admin --only-if-no-users");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.LastLine().size(), 20u);
  const CliRun second = Pneumo("user add admin --role admin --only-if-no-users");
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(second.out.empty()) << second.out;
  EXPECT_TRUE(Service().Login("admin", first.LastLine(), request_)) << "password unchanged";
}

TEST_F(AccountCliTest, UserListShowsRolesAndStatus) {
  AddUser("ada", "admin");
  AddUser("bob");
  ASSERT_EQ(Pneumo("user disable bob").exit_code, 0);
  const CliRun run = Pneumo("user list");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("NAME"), std::string::npos);
  std::istringstream lines(run.out);
  std::string header, ada, bob;
  std::getline(lines, header);
  std::getline(lines, ada);
  std::getline(lines, bob);
  EXPECT_TRUE(ada.starts_with("ada ")) << ada;
  EXPECT_NE(ada.find("admin"), std::string::npos);
  EXPECT_NE(ada.find("must-change-password"), std::string::npos);
  EXPECT_TRUE(bob.starts_with("bob ")) << bob;
  EXPECT_NE(bob.find("disabled"), std::string::npos);
}

TEST_F(AccountCliTest, UserDisableEndsSessionsAndTokensAtOnce) {
  const std::string otp = AddUser("ada");
  auto session = Service().Login("ada", otp, request_);
  ASSERT_TRUE(session);
  const CliRun token = Pneumo("token create ada");
  ASSERT_EQ(token.exit_code, 0) << token.err;
  ASSERT_TRUE(Service().AuthenticateToken(token.LastLine()));

  const CliRun run = Pneumo("user disable ada");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Service().AuthenticateSession(session->id).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(Service().AuthenticateToken(token.LastLine()).error().code,
            ErrorCode::kUnauthenticated);
  const CliRun unknown = Pneumo("user disable nobody");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no user named 'nobody'"), std::string::npos) << unknown.err;
}

TEST_F(AccountCliTest, UserPasswdReplacesThePasswordWithANewOneTimeOne) {
  const std::string old_otp = AddUser("ada");
  const CliRun run = Pneumo("user passwd ada");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string otp = run.LastLine();
  EXPECT_EQ(otp.size(), 20u);
  EXPECT_NE(otp, old_otp);
  EXPECT_FALSE(Service().Login("ada", old_otp, request_));
  EXPECT_TRUE(Service().Login("ada", otp, request_));
  EXPECT_EQ(Pneumo("user passwd nobody").exit_code, 1);
}

TEST_F(AccountCliTest, TokenCreateListAndRevoke) {
  AddUser("ada");
  const CliRun created = Pneumo("token create ada --label 'PACS bridge' --expires 7");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.LastLine();
  ASSERT_TRUE(token.starts_with("pnm_")) << token;
  const std::string id = token.substr(4, 16);
  auto principal = Service().AuthenticateToken(token);
  ASSERT_TRUE(principal) << principal.error().ToString();
  EXPECT_EQ(principal->user, "ada");

  const CliRun listed = Pneumo("token list ada");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(id), std::string::npos);
  EXPECT_NE(listed.out.find("PACS bridge"), std::string::npos);
  EXPECT_NE(listed.out.find("active"), std::string::npos);
  EXPECT_EQ(listed.out.find(token.substr(21)), std::string::npos) << "the secret never shows";

  const CliRun revoked = Pneumo("token revoke " + id);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_NE(Pneumo("token list ada").out.find("revoked"), std::string::npos);
  EXPECT_EQ(Service().AuthenticateToken(token).error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AccountCliTest, TokenCommandsRefuseBadInput) {
  AddUser("ada");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{{"token create nobody", "no user named 'nobody'"},
                                         {"token create ada --expires 100000", "days"},
                                         {"token create ada --expires -1", "days"},
                                         {"token revoke 0123456789abcdef", "no token"},
                                         {"token list nobody", "no user named"}}) {
    const CliRun run = Pneumo(c.args);
    EXPECT_EQ(run.exit_code, 1) << c.args;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << c.args << ": " << run.err;
  }
}

TEST_F(AccountCliTest, AuditExportPrintsJsonLinesOfEveryCliAction) {
  AddUser("ada");
  ASSERT_EQ(Pneumo("token create ada").exit_code, 0);
  ASSERT_EQ(Pneumo("user disable ada").exit_code, 0);
  const CliRun run = Pneumo("audit export");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::istringstream lines(run.out);
  std::vector<nlohmann::json> entries;
  for (std::string line; std::getline(lines, line);) entries.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(entries.size(), 3u) << run.out;
  EXPECT_EQ(entries[0]["action"], "user.create");
  EXPECT_EQ(entries[1]["action"], "token.create");
  EXPECT_EQ(entries[2]["action"], "user.disable");
  for (const auto& e : entries) {
    EXPECT_TRUE(e["user"].get<std::string>().starts_with("cli:")) << e;
    EXPECT_EQ(e["role"], "admin");
    EXPECT_EQ(e["client_address"], "cli");
    EXPECT_EQ(e["outcome"], "success");
  }
  EXPECT_EQ(entries[2]["target_id"], "ada");

  const CliRun filtered = Pneumo("audit export --action token.");
  ASSERT_EQ(filtered.exit_code, 0);
  EXPECT_EQ(std::count(filtered.out.begin(), filtered.out.end(), '\n'), 1);
  EXPECT_TRUE(Pneumo("audit export --since 2999-01-01").out.empty());
  const CliRun bad = Pneumo("audit export --since yesterday");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("UTC"), std::string::npos) << bad.err;
  // The exports themselves are recorded.
  EXPECT_NE(Pneumo("audit export --action audit.").out.find("audit.export"), std::string::npos);
}

TEST_F(AccountCliTest, AuditVerifyFailsNamingTheEntryAlteredInTheDatabase) {
  AddUser("ada");
  AddUser("bob");
  ASSERT_EQ(Pneumo("user disable bob").exit_code, 0);
  const CliRun intact = Pneumo("audit verify");
  EXPECT_EQ(intact.exit_code, 0) << intact.out << intact.err;
  EXPECT_NE(intact.out.find("intact: 3 entries"), std::string::npos) << intact.out;

  ASSERT_EQ(Sql("DROP TRIGGER audit_log_no_update; "
                "UPDATE audit_log SET target_id = 'mallory' WHERE seq = 2"),
            "");
  const CliRun broken = Pneumo("audit verify");
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("BROKEN at entry 2"), std::string::npos) << broken.out;
}

TEST_F(AccountCliTest, UsesTheSameDefaultStoreAsServe) {
  const fs::path data = dir_.path() / "data";
  const CliRun run = Pneumo("user add ada --role doctor", /*with_store=*/false,
                            "PNEUMO_DATA_DIR=" + data.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(data / "results.db"));
  const CliRun explicit_dir = Pneumo("user list --data-dir " + data.string(), /*with_store=*/false);
  EXPECT_NE(explicit_dir.out.find("ada"), std::string::npos) << explicit_dir.err;
}

TEST_F(AccountCliTest, ABadStoreUrlIsAClearError) {
  const CliRun run = Pneumo("user list --store mysql://x", /*with_store=*/false);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("store URL"), std::string::npos) << run.err;
}

TEST_F(AccountCliTest, WorksAgainstRedisToo) {
  store::testing::RedisServer redis("cli-pw");
  ASSERT_EQ(redis.Start(), "");
  const std::string url = redis.Url("cli-pw");
  const CliRun add = Pneumo("user add ada --role doctor --store " + url, /*with_store=*/false);
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.LastLine().size(), 20u);
  const CliRun token = Pneumo("token create ada --store " + url, /*with_store=*/false);
  ASSERT_EQ(token.exit_code, 0) << token.err;
  EXPECT_TRUE(token.LastLine().starts_with("pnm_"));
  const CliRun verify = Pneumo("audit verify --store " + url, /*with_store=*/false);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("intact: 2 entries"), std::string::npos) << verify.out;
  EXPECT_EQ(verify.err.find("cli-pw"), std::string::npos) << "no password in messages";
}

}  // namespace
}  // namespace pneumo
