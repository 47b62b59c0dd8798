// AccountService against a real SQLite store (the Redis store passes the same store contract),
// with a clock the tests move.
#include "auth/account_service.h"

#include <gtest/gtest.h>

#include <memory>

#include "testing/temp_dir.h"

namespace pneumo::auth {
namespace {

constexpr std::int64_t kStart = 1'764'630'000'000;
constexpr std::int64_t kMinute = 60'000;
const RequestInfo kFromClinic{.client_address = "10.0.0.7", .request_id = "req-1"};

class AccountServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = "sqlite:" + (dir_.path() / "results.db").string();
    auto accounts = store::OpenAccountStore(url);
    ASSERT_TRUE(accounts) << accounts.error().ToString();
    accounts_ = std::move(*accounts);
    auto audit = store::OpenAuditStore(url);
    ASSERT_TRUE(audit) << audit.error().ToString();
    audit_ = std::move(*audit);
    AccountOptions options;
    options.hashing = PasswordHashing::ForTestsOnly();
    options.now_ms = [this] { return now_; };
    service_ = std::make_unique<AccountService>(*accounts_, *audit_, options);
  }

  // Creates `name` and sets a permanent password, as the first login would.
  std::string AddUser(const std::string& name, Role role = Role::kDoctor) {
    auto otp = service_->CreateUser(admin_, name, role, kFromClinic);
    EXPECT_TRUE(otp) << otp.error().ToString();
    if (!otp) return "";
    auto session = service_->Login(name, otp->password, kFromClinic);
    EXPECT_TRUE(session) << session.error().ToString();
    const std::string password = name + "-long-enough-password";
    auto changed =
        service_->ChangePassword(session->principal, otp->password, password, kFromClinic);
    EXPECT_TRUE(changed) << changed.error().ToString();
    return password;
  }

  std::vector<store::AuditEntry> AuditOf(const std::string& action) {
    auto page = audit_->List({.action = action}, 1, 100);
    EXPECT_TRUE(page) << page.error().ToString();
    return page ? page->items : std::vector<store::AuditEntry>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::AccountStore> accounts_;
  std::unique_ptr<store::AuditStore> audit_;
  std::unique_ptr<AccountService> service_;
  std::int64_t now_ = kStart;
  const Principal admin_ = AccountService::CliPrincipal("root");
};

TEST_F(AccountServiceTest, ANewUserLogsInWithTheOneTimePasswordAndMustChangeIt) {
  auto otp = service_->CreateUser(admin_, "ada", Role::kDoctor, kFromClinic);
  ASSERT_TRUE(otp) << otp.error().ToString();
  EXPECT_EQ(otp->user, "ada");
  EXPECT_EQ(otp->password.size(), 20u);
  auto session = service_->Login("ada", otp->password, kFromClinic);
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_EQ(session->id.size(), 64u);
  EXPECT_EQ(session->csrf_token.size(), 64u);
  EXPECT_TRUE(session->principal.must_change_password);
  EXPECT_EQ(session->principal.role, Role::kDoctor);
  EXPECT_EQ(session->expires_at_ms, kStart + 12 * 60 * kMinute);
  EXPECT_EQ(session->idle_expires_at_ms, kStart + 30 * kMinute);

  auto again = service_->AuthenticateSession(session->id);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->principal.user, "ada");
  EXPECT_TRUE(again->id.empty()) << "the cookie value is never given out again";
  EXPECT_EQ(again->csrf_token, session->csrf_token);
}

TEST_F(AccountServiceTest, StoresNoPlaintextPasswordAndNoSessionOrTokenSecret) {
  auto otp = service_->CreateUser(admin_, "ada", Role::kDoctor, kFromClinic);
  ASSERT_TRUE(otp);
  auto stored = accounts_->GetUser("ada");
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->password_hash.starts_with("$argon2id$"));
  EXPECT_EQ(stored->password_hash.find(otp->password), std::string::npos);
  auto session = service_->Login("ada", otp->password, kFromClinic);
  ASSERT_TRUE(session);
  EXPECT_EQ(accounts_->GetSession(session->id).error().code, ErrorCode::kNotFound)
      << "the store must key sessions by a hash of the cookie";
  auto token = service_->CreateToken(admin_, "ada", "pacs", 30, kFromClinic);
  ASSERT_TRUE(token);
  auto record = accounts_->GetToken(token->info.id);
  ASSERT_TRUE(record);
  EXPECT_EQ(token->token.find(record->secret_hash), std::string::npos);
  EXPECT_EQ(record->secret_hash.size(), 64u);
}

TEST_F(AccountServiceTest, WrongPasswordAndUnknownUserLookTheSame) {
  AddUser("ada");
  auto wrong = service_->Login("ada", "not the password", kFromClinic);
  auto unknown = service_->Login("nobody", "not the password", kFromClinic);
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(wrong.error().message, unknown.error().message);
  const auto entries = AuditOf("session.login");
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0].outcome, "unknown_user");
  EXPECT_EQ(entries[0].target_id, "nobody");
  EXPECT_EQ(entries[1].outcome, "wrong_password");
  EXPECT_EQ(entries[1].client_address, "10.0.0.7");
  EXPECT_EQ(entries[1].request_id, "req-1");
}

TEST_F(AccountServiceTest, FailedLoginsAreRateLimitedPerAccountWithTheWait) {
  const std::string password = AddUser("ada");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(service_->Login("ada", std::string("guess").append(std::to_string(i)), kFromClinic)
                  .error()
                  .code,
              ErrorCode::kUnauthenticated);
  }
  auto limited = service_->Login("ada", password, kFromClinic);
  ASSERT_FALSE(limited) << "even the right password waits";
  EXPECT_EQ(limited.error().code, ErrorCode::kRateLimited);
  EXPECT_NE(limited.error().message.find("try again in 15 min"), std::string::npos)
      << limited.error().message;
  EXPECT_EQ(AuditOf("session.login")[0].outcome, "rate_limited");
  now_ += 15 * kMinute;
  EXPECT_TRUE(service_->Login("ada", password, kFromClinic));
}

TEST_F(AccountServiceTest, FailedLoginsAreRateLimitedPerAddress) {
  for (int i = 0; i < 20; ++i)
    (void)service_->Login(std::string("u").append(std::to_string(i)), "x", kFromClinic);
  EXPECT_EQ(service_->Login("someone", "x", kFromClinic).error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(service_->Login("someone", "x", {.client_address = "10.0.0.8"}).error().code,
            ErrorCode::kUnauthenticated);
}

TEST_F(AccountServiceTest, SessionsEndAfterIdleTimeUnlessUsed) {
  const std::string password = AddUser("ada");
  auto session = service_->Login("ada", password, kFromClinic);
  ASSERT_TRUE(session);
  now_ += 20 * kMinute;
  auto used = service_->AuthenticateSession(session->id);
  ASSERT_TRUE(used) << used.error().ToString();
  EXPECT_EQ(used->idle_expires_at_ms, now_ + 30 * kMinute);
  now_ += 29 * kMinute;  // 49 min after login, 29 after the last use
  EXPECT_TRUE(service_->AuthenticateSession(session->id));
  now_ += 31 * kMinute;
  auto idle = service_->AuthenticateSession(session->id);
  ASSERT_FALSE(idle);
  EXPECT_EQ(idle.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(idle.error().message.find("expired"), std::string::npos);
}

TEST_F(AccountServiceTest, SessionsEndAtTheirAbsoluteExpiryEvenWhenUsed) {
  const std::string password = AddUser("ada");
  auto session = service_->Login("ada", password, kFromClinic);
  ASSERT_TRUE(session);
  for (int i = 0; i < 12 * 60 / 20 - 1; ++i) {
    now_ += 20 * kMinute;
    ASSERT_TRUE(service_->AuthenticateSession(session->id)) << "at " << (i + 1) * 20 << " min";
  }
  now_ = session->expires_at_ms;
  EXPECT_EQ(service_->AuthenticateSession(session->id).error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AccountServiceTest, LogoutEndsTheSession) {
  const std::string password = AddUser("ada");
  auto session = service_->Login("ada", password, kFromClinic);
  ASSERT_TRUE(session);
  ASSERT_TRUE(service_->Logout(session->id, kFromClinic));
  EXPECT_EQ(service_->AuthenticateSession(session->id).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(service_->Logout(session->id, kFromClinic)) << "idempotent";
  EXPECT_TRUE(service_->Logout("garbage", kFromClinic));
  EXPECT_EQ(AuditOf("session.logout").size(), 1u);
}

TEST_F(AccountServiceTest, ChecksTheCsrfTokenOfTheSession) {
  const std::string password = AddUser("ada");
  auto session = service_->Login("ada", password, kFromClinic);
  ASSERT_TRUE(session);
  EXPECT_TRUE(service_->CheckCsrf(*session, session->csrf_token));
  EXPECT_EQ(service_->CheckCsrf(*session, "").error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->CheckCsrf(*session, std::string(64, '0')).error().code,
            ErrorCode::kPermissionDenied);
}

TEST_F(AccountServiceTest, RefusesGarbageSessionIds) {
  for (const std::string& id : {std::string(), std::string("x"), std::string(64, 'z'),
                                std::string(64, 'a'), std::string(1000, 'a')}) {
    EXPECT_EQ(service_->AuthenticateSession(id).error().code, ErrorCode::kUnauthenticated);
  }
}

TEST_F(AccountServiceTest, ChangingThePasswordEnforcesTheRulesAndEndsEveryCredential) {
  const std::string password = AddUser("ada");
  auto first = service_->Login("ada", password, kFromClinic);
  auto second = service_->Login("ada", password, kFromClinic);
  auto token = service_->CreateToken(admin_, "ada", "", 0, kFromClinic);
  ASSERT_TRUE(first && second && token);

  auto short_one = service_->ChangePassword(first->principal, password, "short", kFromClinic);
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(short_one.error().message.find("12"), std::string::npos);
  EXPECT_EQ(
      service_->ChangePassword(first->principal, password, password, kFromClinic).error().code,
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(service_->ChangePassword(first->principal, "wrong", "a-new-long-password", kFromClinic)
                .error()
                .code,
            ErrorCode::kUnauthenticated);

  auto fresh =
      service_->ChangePassword(first->principal, password, "a-new-long-password", kFromClinic);
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_FALSE(fresh->principal.must_change_password);
  EXPECT_TRUE(service_->AuthenticateSession(fresh->id)) << "the returned session works";
  EXPECT_FALSE(service_->AuthenticateSession(first->id));
  EXPECT_FALSE(service_->AuthenticateSession(second->id));
  EXPECT_FALSE(service_->AuthenticateToken(token->token));
  EXPECT_FALSE(service_->Login("ada", password, kFromClinic));
  EXPECT_TRUE(service_->Login("ada", "a-new-long-password", kFromClinic));
}

TEST_F(AccountServiceTest, DisablingAUserEndsItsSessionsAndTokensAtOnce) {
  const std::string password = AddUser("ada");
  auto session = service_->Login("ada", password, kFromClinic);
  auto token = service_->CreateToken(admin_, "ada", "pacs", 7, kFromClinic);
  ASSERT_TRUE(session && token);
  ASSERT_TRUE(service_->AuthenticateToken(token->token));
  ASSERT_TRUE(service_->DisableUser(admin_, "ada", kFromClinic));
  EXPECT_EQ(service_->AuthenticateSession(session->id).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(service_->AuthenticateToken(token->token).error().code, ErrorCode::kUnauthenticated);
  auto login = service_->Login("ada", password, kFromClinic);
  ASSERT_FALSE(login);
  EXPECT_NE(login.error().message.find("disabled"), std::string::npos);
  const auto entries = AuditOf("user.disable");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].user, "cli:root");
  EXPECT_EQ(entries[0].role, "admin");
  EXPECT_EQ(entries[0].target_id, "ada");
}

TEST_F(AccountServiceTest, AnAdminCannotDisableThemselves) {
  const std::string password = AddUser("boss", Role::kAdmin);
  auto session = service_->Login("boss", password, kFromClinic);
  ASSERT_TRUE(session);
  EXPECT_EQ(service_->DisableUser(session->principal, "boss", kFromClinic).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(AccountServiceTest, ResettingAPasswordGivesANewOneTimePasswordAndEndsSessions) {
  const std::string password = AddUser("ada");
  auto session = service_->Login("ada", password, kFromClinic);
  ASSERT_TRUE(session);
  auto otp = service_->ResetPassword(admin_, "ada", kFromClinic);
  ASSERT_TRUE(otp) << otp.error().ToString();
  EXPECT_FALSE(service_->AuthenticateSession(session->id));
  EXPECT_FALSE(service_->Login("ada", password, kFromClinic));
  auto again = service_->Login("ada", otp->password, kFromClinic);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->principal.must_change_password);
  EXPECT_EQ(service_->ResetPassword(admin_, "nobody", kFromClinic).error().code,
            ErrorCode::kNotFound);
}

TEST_F(AccountServiceTest, TokensAuthenticateUntilRevokedOrExpired) {
  AddUser("ada");
  auto token = service_->CreateToken(admin_, "ada", "PACS bridge", 2, kFromClinic);
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_TRUE(token->token.starts_with("pnm_" + token->info.id + "_"));
  EXPECT_EQ(token->info.expires_at_ms, kStart + 2 * 24 * 60 * kMinute);
  auto principal = service_->AuthenticateToken(token->token);
  ASSERT_TRUE(principal) << principal.error().ToString();
  EXPECT_EQ(principal->user, "ada");
  EXPECT_EQ(principal->via, Principal::Via::kToken);
  EXPECT_EQ(principal->credential_id, token->info.id);

  std::string wrong_secret = token->token;
  wrong_secret.back() = wrong_secret.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(service_->AuthenticateToken(wrong_secret).error().code, ErrorCode::kUnauthenticated);
  for (const char* bad : {"", "pnm_", "Bearer x", "pnm_zz_zz"}) {
    EXPECT_EQ(service_->AuthenticateToken(bad).error().code, ErrorCode::kUnauthenticated) << bad;
  }

  now_ += 2 * 24 * 60 * kMinute;
  auto expired = service_->AuthenticateToken(token->token);
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);

  auto other = service_->CreateToken(admin_, "ada", "", 0, kFromClinic);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->info.expires_at_ms, now_ + 90LL * 24 * 60 * kMinute) << "default 90 days";
  ASSERT_TRUE(service_->RevokeToken(admin_, other->info.id, kFromClinic));
  auto revoked = service_->AuthenticateToken(other->token);
  ASSERT_FALSE(revoked);
  EXPECT_NE(revoked.error().message.find("revoked"), std::string::npos);

  auto listed = service_->ListTokens(admin_, "ada");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_TRUE((*listed)[0].revoked);
  EXPECT_TRUE((*listed)[1].expired);
  EXPECT_EQ(service_->CreateToken(admin_, "ada", "", 5000, kFromClinic).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(service_->CreateToken(admin_, "ada", "bad\nlabel", 1, kFromClinic).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(AccountServiceTest, DoctorsCannotAdministerButManageTheirOwnTokens) {
  const std::string password = AddUser("ada");
  AddUser("bob");
  auto session = service_->Login("ada", password, kFromClinic);
  ASSERT_TRUE(session);
  const Principal& ada = session->principal;
  EXPECT_EQ(service_->CreateUser(ada, "eve", Role::kAdmin, kFromClinic).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->ListUsers(ada).error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->DisableUser(ada, "bob", kFromClinic).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->ResetPassword(ada, "bob", kFromClinic).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->CreateToken(ada, "bob", "", 1, kFromClinic).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->ListTokens(ada, "bob").error().code, ErrorCode::kPermissionDenied);

  auto own = service_->CreateToken(ada, "ada", "mine", 1, kFromClinic);
  ASSERT_TRUE(own) << own.error().ToString();
  EXPECT_TRUE(service_->ListTokens(ada, "ada"));
  auto bobs = service_->CreateToken(admin_, "bob", "", 1, kFromClinic);
  ASSERT_TRUE(bobs);
  EXPECT_EQ(service_->RevokeToken(ada, bobs->info.id, kFromClinic).error().code,
            ErrorCode::kNotFound);
  EXPECT_TRUE(service_->AuthenticateToken(bobs->token)) << "still valid";
  EXPECT_TRUE(service_->RevokeToken(ada, own->info.id, kFromClinic));
}

TEST_F(AccountServiceTest, ValidatesUserNamesAndRefusesDuplicates) {
  for (const char* bad : {"", ".hidden", "a b", "ada:x", "ünï", "x/../y"}) {
    EXPECT_EQ(service_->CreateUser(admin_, bad, Role::kDoctor, kFromClinic).error().code,
              ErrorCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(
      service_->CreateUser(admin_, std::string(65, 'a'), Role::kDoctor, kFromClinic).error().code,
      ErrorCode::kInvalidArgument);
  ASSERT_TRUE(service_->CreateUser(admin_, "dr.ada-1_x", Role::kDoctor, kFromClinic));
  EXPECT_EQ(service_->CreateUser(admin_, "dr.ada-1_x", Role::kAdmin, kFromClinic).error().code,
            ErrorCode::kInvalidArgument);
  auto users = service_->ListUsers(admin_);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].role, Role::kDoctor);
  EXPECT_TRUE((*users)[0].must_change_password);
}

TEST_F(AccountServiceTest, LeavesAnAuditEntryForEveryChange) {
  AddUser("ada");
  auto token = service_->CreateToken(admin_, "ada", "", 1, kFromClinic);
  ASSERT_TRUE(token);
  ASSERT_TRUE(service_->RevokeToken(admin_, token->info.id, kFromClinic));
  ASSERT_TRUE(service_->ResetPassword(admin_, "ada", kFromClinic));
  ASSERT_TRUE(service_->DisableUser(admin_, "ada", kFromClinic));
  ASSERT_TRUE(service_->Record(nullptr, "prediction.view", "01ABC", kFromClinic, "denied"));
  for (const char* action :
       {"user.create", "session.login", "user.password_change", "token.create", "token.revoke",
        "user.password_reset", "user.disable", "prediction.view"}) {
    EXPECT_FALSE(AuditOf(action).empty()) << action;
  }
  EXPECT_EQ(AuditOf("token.create")[0].target_id, token->info.id);
  auto check = store::VerifyAuditChain(*audit_);
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->ok) << check->problem;
}

TEST(Role, ParsesItsNames) {
  EXPECT_EQ(*ParseRole("doctor"), Role::kDoctor);
  EXPECT_EQ(*ParseRole("admin"), Role::kAdmin);
  EXPECT_EQ(ParseRole("root").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
}

}  // namespace
}  // namespace pneumo::auth
