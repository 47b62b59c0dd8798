// The route table's access check against a real AccountService on SQLite: every kind of route
// without credentials, with the wrong role, with an expired session, a disabled user, a revoked
// token, without the CSRF token, before the password change, and from the trusted networks.
#include "http/access_control.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace pneumo::http {
namespace {

const auth::RequestInfo kRequest{.client_address = "10.0.0.7"};

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = "sqlite:" + (dir_.path() / "results.db").string();
    accounts_ = std::move(*store::OpenAccountStore(url));
    audit_ = std::move(*store::OpenAuditStore(url));
    auth::AccountOptions options;
    options.hashing = auth::PasswordHashing::ForTestsOnly();
    options.now_ms = [this] { return now_; };
    service_ = std::make_unique<auth::AccountService>(*accounts_, *audit_, options);
    options_.legacy_networks = *NetworkList::Parse("10.1.0.0/16");
  }

  // A logged-in session of a new user whose password is already changed.
  auth::Session SignedIn(const std::string& name, auth::Role role) {
    auto otp = service_->CreateUser(admin_, name, role, kRequest);
    auto first = service_->Login(name, otp->password, kRequest);
    auto session = service_->ChangePassword(first->principal, otp->password,
                                            name + "-a-long-password", kRequest);
    EXPECT_TRUE(session) << session.error().ToString();
    return *session;
  }

  Result<AccessDecision> Check(Access access, std::string_view label, RequestCredentials r) {
    if (r.method.empty()) r.method = "GET";
    if (r.client_address.empty()) r.client_address = "10.0.0.7";
    return CheckAccess(access, label, r, *service_, options_);
  }

  static std::string Cookie(const auth::Session& s) { return "theme=dark; pneumo_session=" + s.id; }

  testing::TempDir dir_;
  std::unique_ptr<store::AccountStore> accounts_;
  std::unique_ptr<store::AuditStore> audit_;
  std::unique_ptr<auth::AccountService> service_;
  AccessOptions options_;
  std::int64_t now_ = 1'764'630'000'000;
  const auth::Principal admin_ = auth::AccountService::CliPrincipal("root");
};

TEST_F(AccessControlTest, PublicRoutesNeedNothing) {
  auto decision = Check(Access::kPublic, "/healthz", {});
  ASSERT_TRUE(decision);
  EXPECT_FALSE(decision->principal);
}

TEST_F(AccessControlTest, EveryOtherRouteWithoutCredentialsIs401) {
  for (Access access : {Access::kSignedIn, Access::kAdmin, Access::kLegacy, Access::kMetrics}) {
    auto decision = Check(access, "/x", {});
    ASSERT_FALSE(decision);
    EXPECT_EQ(decision.error().code, ErrorCode::kUnauthenticated);
  }
  auto garbage = Check(Access::kSignedIn, "/x", {.authorization = "Bearer nonsense"});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(Check(Access::kSignedIn, "/x", {.cookie = "pneumo_session=" + std::string(64, 'a')})
                .error()
                .code,
            ErrorCode::kUnauthenticated);
}

TEST_F(AccessControlTest, ASessionReadsFreelyButChangesOnlyWithItsCsrfToken) {
  const auth::Session ada = SignedIn("ada", auth::Role::kDoctor);
  const std::string cookie = Cookie(ada);
  auto read = Check(Access::kSignedIn, "/api/v1/predictions", {.cookie = cookie});
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(read->principal->user, "ada");
  ASSERT_TRUE(read->session);
  EXPECT_EQ(read->session->csrf_token, ada.csrf_token);

  for (std::string_view method : {"POST", "DELETE", "PUT"}) {
    auto forged =
        Check(Access::kSignedIn, "/api/v1/predictions", {.method = method, .cookie = cookie});
    ASSERT_FALSE(forged) << method;
    EXPECT_EQ(forged.error().code, ErrorCode::kPermissionDenied);
    EXPECT_NE(forged.error().message.find("CSRF"), std::string::npos);
  }
  EXPECT_FALSE(Check(Access::kSignedIn, "/api/v1/predictions",
                     {.method = "POST", .cookie = cookie, .csrf_token = std::string(64, '0')}));
  EXPECT_TRUE(Check(Access::kSignedIn, "/api/v1/predictions",
                    {.method = "POST", .cookie = cookie, .csrf_token = ada.csrf_token}));
}

TEST_F(AccessControlTest, ATokenNeedsNoCsrfAndWinsOverACookie) {
  SignedIn("ada", auth::Role::kDoctor);
  auto token = service_->CreateToken(admin_, "ada", "", 1, kRequest);
  ASSERT_TRUE(token);
  auto post = Check(Access::kSignedIn, "/api/v1/predictions",
                    {.method = "POST",
                     .authorization = "bearer " + token->token,
                     .cookie = "pneumo_session=" + std::string(64, 'b')});
  ASSERT_TRUE(post) << post.error().ToString();
  EXPECT_EQ(post->principal->via, auth::Principal::Via::kToken);
  EXPECT_FALSE(post->session);
}

TEST_F(AccessControlTest, RevokedTokensExpiredSessionsAndDisabledUsersAre401) {
  const auth::Session ada = SignedIn("ada", auth::Role::kDoctor);
  const auth::Session bob = SignedIn("bob", auth::Role::kDoctor);
  auto token = service_->CreateToken(admin_, "ada", "", 1, kRequest);
  ASSERT_TRUE(token);
  ASSERT_TRUE(service_->RevokeToken(admin_, token->info.id, kRequest));
  EXPECT_EQ(
      Check(Access::kSignedIn, "/x", {.authorization = "Bearer " + token->token}).error().code,
      ErrorCode::kUnauthenticated);
  ASSERT_TRUE(service_->DisableUser(admin_, "bob", kRequest));
  EXPECT_EQ(Check(Access::kSignedIn, "/x", {.cookie = Cookie(bob)}).error().code,
            ErrorCode::kUnauthenticated);
  now_ += 31 * 60'000;
  EXPECT_EQ(Check(Access::kSignedIn, "/x", {.cookie = Cookie(ada)}).error().code,
            ErrorCode::kUnauthenticated);
}

TEST_F(AccessControlTest, AdminRoutesRefuseDoctorsWith403) {
  const auth::Session ada = SignedIn("ada", auth::Role::kDoctor);
  const auth::Session boss = SignedIn("boss", auth::Role::kAdmin);
  auto doctor = Check(Access::kAdmin, "/api/v1/users", {.cookie = Cookie(ada)});
  ASSERT_FALSE(doctor);
  EXPECT_EQ(doctor.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Check(Access::kAdmin, "/api/v1/users", {.cookie = Cookie(boss)}));
}

TEST_F(AccessControlTest, AOneTimePasswordSessionMayOnlyChangeThePassword) {
  auto otp = service_->CreateUser(admin_, "ada", auth::Role::kDoctor, kRequest);
  auto session = service_->Login("ada", otp->password, kRequest);
  ASSERT_TRUE(session);
  const std::string cookie = Cookie(*session);
  auto blocked = Check(Access::kSignedIn, "/api/v1/predictions", {.cookie = cookie});
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(blocked.error().message.find("password"), std::string::npos);
  EXPECT_TRUE(Check(Access::kSignedIn, "/api/v1/session", {.cookie = cookie}));
  EXPECT_TRUE(Check(Access::kSignedIn, "/api/v1/session/password",
                    {.method = "POST", .cookie = cookie, .csrf_token = session->csrf_token}));
}

TEST_F(AccessControlTest, MetricsAreOpenToTheirNetworksOrWithAToken) {
  EXPECT_TRUE(Check(Access::kMetrics, "/metrics", {.client_address = "127.0.0.1"}));
  EXPECT_TRUE(Check(Access::kMetrics, "/metrics", {.client_address = "::1"}));
  EXPECT_EQ(Check(Access::kMetrics, "/metrics", {.client_address = "10.0.0.5"}).error().code,
            ErrorCode::kUnauthenticated);
  SignedIn("prom", auth::Role::kDoctor);
  auto token = service_->CreateToken(admin_, "prom", "scraper", 1, kRequest);
  ASSERT_TRUE(token);
  EXPECT_TRUE(Check(Access::kMetrics, "/metrics",
                    {.authorization = "Bearer " + token->token, .client_address = "10.0.0.5"}));
}

TEST_F(AccessControlTest, LegacyRoutesAreOpenOnlyToTheLegacyNetworks) {
  auto legacy =
      Check(Access::kLegacy, "/predict", {.method = "POST", .client_address = "10.1.2.3"});
  ASSERT_TRUE(legacy);
  EXPECT_FALSE(legacy->principal);
  EXPECT_EQ(Check(Access::kLegacy, "/predict", {.method = "POST", .client_address = "10.2.0.1"})
                .error()
                .code,
            ErrorCode::kUnauthenticated);
  EXPECT_FALSE(Check(Access::kSignedIn, "/api/v1/predictions", {.client_address = "10.1.2.3"}))
      << "the legacy networks open only the legacy routes";
}

TEST(NetworkList, ParsesCidrAndMatchesAddresses) {
  auto list = NetworkList::Parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1/128");
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->ToString(), "10.0.0.0/8,192.168.1.7/32,fd00::/8,::1/128");
  EXPECT_TRUE(list->Contains("10.255.0.1"));
  EXPECT_TRUE(list->Contains("::ffff:10.1.1.1")) << "IPv4-mapped IPv6 is IPv4";
  EXPECT_TRUE(list->Contains("192.168.1.7"));
  EXPECT_FALSE(list->Contains("192.168.1.8"));
  EXPECT_TRUE(list->Contains("fd12:3456::1"));
  EXPECT_TRUE(list->Contains("::1"));
  EXPECT_FALSE(list->Contains("::2"));
  EXPECT_FALSE(list->Contains("11.0.0.1"));
  EXPECT_FALSE(list->Contains("not an address"));
  EXPECT_FALSE(list->Contains(""));
  EXPECT_TRUE(NetworkList::Parse("")->empty());
  EXPECT_FALSE(NetworkList::Parse("")->Contains("127.0.0.1"));
  EXPECT_TRUE(NetworkList::Parse("0.0.0.0/0")->Contains("8.8.8.8"));
  EXPECT_TRUE(NetworkList::Parse("10.0.0.0/12")->Contains("10.15.255.255"));
  EXPECT_FALSE(NetworkList::Parse("10.0.0.0/12")->Contains("10.16.0.0"));
  EXPECT_TRUE(NetworkList::Loopback().Contains("127.0.0.1"));
  for (const char* bad :
       {"10.0.0.0/33", "::1/129", "10.0.0/8", "localhost", "10.0.0.0/x", "1.2.3.4,,"}) {
    auto parsed = NetworkList::Parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(SessionCookie, IsHttpOnlyStrictAndSecureBehindTls) {
  auth::Session s;
  s.id = std::string(64, 'c');
  s.expires_at_ms = 10'000'000;
  const std::string plain = SessionCookieHeader(s, 10'000'000 - 3'600'000, /*secure=*/false);
  EXPECT_EQ(plain, "pneumo_session=" + s.id + "; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict");
  EXPECT_TRUE(SessionCookieHeader(s, 0, /*secure=*/true).ends_with("; Secure"));
  EXPECT_NE(ClearedSessionCookieHeader(false).find("Max-Age=0"), std::string::npos);
}

TEST(SessionCookie, ParsesCookieAndAuthorizationHeaders) {
  EXPECT_EQ(CookieValue("a=1; pneumo_session=abc ; b=2", "pneumo_session"), "abc");
  EXPECT_EQ(CookieValue("xpneumo_session=abc", "pneumo_session"), "");
  EXPECT_EQ(CookieValue("", "pneumo_session"), "");
  EXPECT_EQ(BearerToken("Bearer pnm_x"), "pnm_x");
  EXPECT_EQ(BearerToken("BEARER  pnm_x "), "pnm_x");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
}

}  // namespace
TEST(ClientAddress, BelievesXRealIpOnlyFromATrustedProxy) {
  const auto proxies = *NetworkList::Parse("127.0.0.1/32,10.0.0.5");
  EXPECT_EQ(ClientAddress("127.0.0.1", "203.0.113.9", proxies), "203.0.113.9");
  EXPECT_EQ(ClientAddress("10.0.0.5", "2001:db8::7", proxies), "2001:db8::7");
  EXPECT_EQ(ClientAddress("198.51.100.4", "127.0.0.1", proxies), "198.51.100.4")
      << "a client that is no proxy cannot claim another address";
  EXPECT_EQ(ClientAddress("127.0.0.1", "", proxies), "127.0.0.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", "evil, 1.2.3.4", proxies), "127.0.0.1")
      << "a header that is not one IP address is ignored";
  EXPECT_EQ(ClientAddress("127.0.0.1", "203.0.113.9", NetworkList{}), "127.0.0.1")
      << "no trusted proxies: the peer, always";
}

}  // namespace pneumo::http
