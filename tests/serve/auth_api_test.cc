// `pneumo serve --accounts` as a black box: accounts and tokens made with the CLI against the
// server's own store, then every kind of route without credentials, with a revoked token and a
// disabled user; a doctor cannot see another doctor's study by id, image, heatmap or listing;
// uploads, views and listings leave audit entries; the legacy routes answer without credentials
// only to --legacy-clients.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <set>

#include "serve_fixture.h"

namespace pneumo::serve_testing {
namespace {

// Runs the pneumo CLI with these space-separated arguments; the last line of stdout, or "".
std::string Cli(const std::string& args, int* exit_code = nullptr) {
  std::vector<std::string> words;
  std::istringstream in(args);
  for (std::string word; in >> word;) words.push_back(word);
  return RunPneumoCli(words, exit_code);
}

class AuthApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    url_ = "sqlite:" + (dir_->path() / "results.db").string();
    for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
             {"ada", "doctor"}, {"bob", "doctor"}, {"boss", "admin"}, {"gone", "doctor"}}) {
      ASSERT_EQ(Cli("user add " + name + " --role " + role + " --store " + url_).size(), 20u);
      tokens_[name] = Cli("token create " + name + " --store " + url_);
      ASSERT_TRUE(tokens_[name].starts_with("pnm_")) << tokens_[name];
    }
    server_ = new PneumoServer(url_, {"--accounts"});
    const std::string problem = server_->Start();
    ASSERT_EQ(problem, "") << problem;
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  static httplib::Client As(const std::string& user) {
    httplib::Client client = server_->AnonymousClient();
    if (!user.empty()) client.set_bearer_token_auth(tokens_[user]);
    return client;
  }
  static std::string Upload(const std::string& user, unsigned seed) {
    auto client = As(user);
    auto res = UploadMultipart(client, "/api/v1/predictions", ChestPng(seed), "chest.png");
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
    return res && res->status == 201 ? Json(res)["id"].get<std::string>() : "";
  }

  static TempDir* dir_;
  static std::string url_;
  static std::map<std::string, std::string> tokens_;
  static PneumoServer* server_;
};
TempDir* AuthApiTest::dir_ = nullptr;
std::string AuthApiTest::url_;
std::map<std::string, std::string> AuthApiTest::tokens_;
PneumoServer* AuthApiTest::server_ = nullptr;

TEST_F(AuthApiTest, EveryRouteButHealthAndTheUiShellRefusesWithoutCredentials) {
  const std::string id = Upload("ada", 1);
  auto client = As("");
  const std::vector<std::string> guarded = {"/api/v1/predictions",
                                            "/api/v1/predictions/" + id,
                                            "/api/v1/predictions/" + id + "/image",
                                            "/api/v1/predictions/" + id + "/heatmap",
                                            "/api/v1/model",
                                            "/api/v1/openapi.json"};
  for (const std::string& path : guarded) {
    auto res = client.Get(path.c_str());
    EXPECT_TRUE(IsApiError(res, 401, "unauthenticated")) << path;
    if (res) {
      EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"pneumo\"");
    }
  }
  EXPECT_TRUE(IsApiError(UploadMultipart(client, "/api/v1/predictions", ChestPng(2), "x.png"), 401,
                         "unauthenticated"));
  EXPECT_TRUE(IsCompatError(UploadMultipart(client, "/predict", ChestPng(2), "x.png"), 401));
  EXPECT_TRUE(IsCompatError(client.Get("/predictions"), 401));
  EXPECT_TRUE(IsCompatError(client.Get("/health"), 401));
  auto with_token = As("ada").Get("/api/v1/model");
  ASSERT_TRUE(with_token);
  EXPECT_EQ(with_token->status, 200);
  for (const char* open : {"/healthz", "/readyz", "/", "/static/style.css"}) {
    auto res = client.Get(open);
    ASSERT_TRUE(res) << open;
    EXPECT_EQ(res->status, 200) << open;
  }
  auto who = client.Get("/api/v1/session");  // "who am I" is open, and says: nobody
  ASSERT_TRUE(who);
  EXPECT_EQ(who->status, 200);
  EXPECT_EQ(Json(who), (json{{"accounts", true}, {"user", nullptr}}));
  auto metrics = client.Get("/metrics");  // from 127.0.0.1: a metrics network by default
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  httplib::Client forged = server_->Client();
  forged.set_bearer_token_auth("pnm_0123456789abcdef_" + std::string(64, '0'));
  EXPECT_TRUE(IsApiError(forged.Get("/api/v1/predictions"), 401, "unauthenticated"));
}

TEST_F(AuthApiTest, ADoctorSeesOnlyTheirOwnStudiesAndAnAdminSeesAll) {
  const std::string adas = Upload("ada", 3);
  const std::string bobs = Upload("bob", 4);
  auto bob = As("bob");
  const std::vector<std::string> adas_paths = {"/api/v1/predictions/" + adas,
                                               "/api/v1/predictions/" + adas + "/image",
                                               "/api/v1/predictions/" + adas + "/heatmap"};
  for (const std::string& path : adas_paths) {
    EXPECT_TRUE(IsApiError(bob.Get(path.c_str()), 404, "not_found")) << path;
  }
  auto own = bob.Get(("/api/v1/predictions/" + bobs).c_str());
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200);
  auto listed = Json(bob.Get("/api/v1/predictions?per_page=100"));
  std::set<std::string> ids;
  for (const auto& item : listed["items"]) ids.insert(item["id"].get<std::string>());
  EXPECT_TRUE(ids.contains(bobs));
  EXPECT_FALSE(ids.contains(adas));
  EXPECT_EQ(listed["total"].get<int>(), static_cast<int>(ids.size()));
  auto compat = Json(bob.Get("/predictions"));
  ASSERT_TRUE(compat.is_object()) << compat;

  auto boss = As("boss");
  auto any = boss.Get(("/api/v1/predictions/" + adas + "/image").c_str());
  ASSERT_TRUE(any);
  EXPECT_EQ(any->status, 200);
  auto all = Json(boss.Get("/api/v1/predictions?per_page=100"));
  EXPECT_GE(all["total"].get<int>(), 2);
}

TEST_F(AuthApiTest, UploadsViewsListingsAndRefusalsAreAudited) {
  const std::string id = Upload("ada", 5);
  ASSERT_FALSE(id.empty());
  (void)As("ada").Get(("/api/v1/predictions/" + id).c_str());
  (void)As("ada").Get("/api/v1/predictions");
  (void)As("bob").Get(("/api/v1/predictions/" + id + "/heatmap").c_str());
  FILE* pipe =
      popen((PneumoBinary() + " audit export --store " + url_ + " 2>/dev/null").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  pclose(pipe);
  std::istringstream lines(out);
  std::set<std::string> seen;
  for (std::string line; std::getline(lines, line);) {
    const json e = json::parse(line);
    if (e["target_id"] != id) continue;
    seen.insert(e["user"].get<std::string>() + " " + e["action"].get<std::string>() + " " +
                e["outcome"].get<std::string>());
    EXPECT_EQ(e["client_address"], "127.0.0.1");
    EXPECT_FALSE(e["request_id"].get<std::string>().empty());
  }
  EXPECT_TRUE(seen.contains("ada prediction.create success")) << out;
  EXPECT_TRUE(seen.contains("ada prediction.view success")) << out;
  EXPECT_TRUE(seen.contains("bob prediction.heatmap denied")) << out;
  EXPECT_NE(out.find("\"action\":\"prediction.list\""), std::string::npos);
  int code = -1;
  EXPECT_NE(Cli("audit verify --store " + url_, &code).find("intact"), std::string::npos);
  EXPECT_EQ(code, 0);
}

TEST_F(AuthApiTest, ARevokedTokenAndADisabledUserStopWorkingAtOnce) {
  auto gone = As("gone");
  auto before = gone.Get("/api/v1/predictions");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200);
  const std::string id = tokens_["gone"].substr(4, 16);
  int code = -1;
  Cli("token revoke " + id + " --store " + url_, &code);
  ASSERT_EQ(code, 0);
  EXPECT_TRUE(IsApiError(gone.Get("/api/v1/predictions"), 401, "unauthenticated"));

  const std::string fresh = Cli("token create gone --store " + url_);
  httplib::Client again = server_->Client();
  again.set_bearer_token_auth(fresh);
  ASSERT_EQ(again.Get("/api/v1/predictions")->status, 200);
  Cli("user disable gone --store " + url_, &code);
  ASSERT_EQ(code, 0);
  EXPECT_TRUE(IsApiError(again.Get("/api/v1/predictions"), 401, "unauthenticated"));
}

// The value of the pneumo_session cookie a response sets, or "".
std::string SessionCookie(const httplib::Result& res) {
  if (!res) return "";
  const std::string header = res->get_header_value("Set-Cookie");
  const std::string prefix = "pneumo_session=";
  if (!header.starts_with(prefix)) return "";
  return header.substr(prefix.size(), header.find(';') - prefix.size());
}

httplib::Headers WithSession(const std::string& cookie, const std::string& csrf = "") {
  httplib::Headers headers = {{"Cookie", "pneumo_session=" + cookie}};
  if (!csrf.empty()) headers.emplace("X-CSRF-Token", csrf);
  return headers;
}

TEST_F(AuthApiTest, AWebLoginSetsAStrictHttpOnlyCookieAndNeedsTheCsrfTokenToChangeAnything) {
  int code = -1;
  const std::string otp = Cli("user add carol --role doctor --store " + url_, &code);
  ASSERT_EQ(code, 0);
  auto client = As("");
  auto login = client.Post("/api/v1/session", json{{"user", "carol"}, {"password", otp}}.dump(),
                           "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string set_cookie = login->get_header_value("Set-Cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "plain HTTP: no Secure";
  const std::string cookie = SessionCookie(login);
  const json session = Json(login);
  EXPECT_EQ(session["user"], "carol");
  EXPECT_TRUE(session["must_change_password"].get<bool>());
  const std::string csrf = session["csrf_token"];

  // A one-time password session may do nothing but change it.
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/predictions", WithSession(cookie)), 403, "forbidden"));
  auto who = client.Get("/api/v1/session", WithSession(cookie));
  ASSERT_TRUE(who);
  EXPECT_EQ(Json(who)["csrf_token"], csrf);
  const std::string change =
      json{{"old_password", otp}, {"new_password", "carol-a-long-password"}}.dump();
  EXPECT_TRUE(IsApiError(
      client.Post("/api/v1/session/password", WithSession(cookie), change, "application/json"), 403,
      "forbidden"))
      << "a cross-site form post carries the cookie but not the CSRF token";
  auto changed = client.Post("/api/v1/session/password", WithSession(cookie, csrf), change,
                             "application/json");
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->status, 200) << changed->body;
  const std::string fresh = SessionCookie(changed);
  const std::string fresh_csrf = Json(changed)["csrf_token"];
  EXPECT_EQ(Json(client.Get("/api/v1/session", WithSession(cookie))),
            (json{{"accounts", true}, {"user", nullptr}}))
      << "the old session ended with the password change";
  EXPECT_TRUE(
      IsApiError(client.Get("/api/v1/predictions", WithSession(cookie)), 401, "unauthenticated"));

  auto upload = client.Post("/api/v1/predictions", WithSession(fresh), ChestPng(7), "image/png");
  EXPECT_TRUE(IsApiError(upload, 403, "forbidden")) << "no CSRF token";
  auto uploaded =
      client.Post("/api/v1/predictions", WithSession(fresh, fresh_csrf), ChestPng(7), "image/png");
  ASSERT_TRUE(uploaded);
  EXPECT_EQ(uploaded->status, 201) << uploaded->body;
  auto listed = client.Get("/api/v1/predictions", WithSession(fresh));
  ASSERT_TRUE(listed);
  EXPECT_EQ(Json(listed)["total"], 1) << "carol sees her one upload";

  auto logout = client.Delete("/api/v1/session", WithSession(fresh, fresh_csrf));
  ASSERT_TRUE(logout);
  EXPECT_EQ(logout->status, 204);
  EXPECT_NE(logout->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_TRUE(
      IsApiError(client.Get("/api/v1/predictions", WithSession(fresh)), 401, "unauthenticated"));
}

TEST_F(AuthApiTest, BruteForceOnALoginEngagesTheLimitWithTheWait) {
  int code = -1;
  Cli("user add dave --role doctor --store " + url_, &code);
  ASSERT_EQ(code, 0);
  auto client = As("");
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(IsApiError(
        client.Post("/api/v1/session", json{{"user", "dave"}, {"password", "guess"}}.dump(),
                    "application/json"),
        401, "unauthenticated"));
  }
  auto limited = client.Post("/api/v1/session", json{{"user", "dave"}, {"password", "x"}}.dump(),
                             "application/json");
  EXPECT_TRUE(IsApiError(limited, 429, "rate_limited"));
  EXPECT_NE(Json(limited)["error"]["message"].get<std::string>().find("try again in"),
            std::string::npos);
}

TEST_F(AuthApiTest, AdminsManageUsersTokensAndReadTheAuditTrailDoctorsCannot) {
  auto boss = As("boss");
  auto created = boss.Post("/api/v1/users", json{{"name", "erin"}, {"role", "doctor"}}.dump(),
                           "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  EXPECT_EQ(Json(created)["one_time_password"].get<std::string>().size(), 20u);
  auto users = Json(boss.Get("/api/v1/users"));
  bool listed = false;
  for (const auto& u : users["items"]) listed |= u["name"] == "erin";
  EXPECT_TRUE(listed) << users;

  auto token = boss.Post("/api/v1/users/erin/tokens",
                         json{{"label", "pacs"}, {"expires_days", 3}}.dump(), "application/json");
  ASSERT_TRUE(token);
  ASSERT_EQ(token->status, 201) << token->body;
  const std::string secret = Json(token)["token"];
  httplib::Client erin = server_->Client();
  erin.set_bearer_token_auth(secret);
  ASSERT_EQ(erin.Get("/api/v1/predictions")->status, 200);
  auto tokens = Json(erin.Get("/api/v1/users/erin/tokens"));
  ASSERT_EQ(tokens["items"].size(), 1u) << tokens;
  auto revoked = erin.Delete(("/api/v1/tokens/" + Json(token)["id"].get<std::string>()).c_str());
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 204);
  EXPECT_TRUE(IsApiError(erin.Get("/api/v1/predictions"), 401, "unauthenticated"));

  auto ada = As("ada");
  EXPECT_TRUE(IsApiError(ada.Get("/api/v1/users"), 403, "forbidden"));
  EXPECT_TRUE(IsApiError(ada.Get("/api/v1/audit"), 403, "forbidden"));
  EXPECT_TRUE(
      IsApiError(ada.Post("/api/v1/users/bob/disable", "", "application/json"), 403, "forbidden"));
  EXPECT_TRUE(IsApiError(ada.Get("/api/v1/users/bob/tokens"), 403, "forbidden"));

  auto audit = boss.Get("/api/v1/audit?action=user.&per_page=5");
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->status, 200) << audit->body;
  const json page = Json(audit);
  ASSERT_FALSE(page["items"].empty());
  for (const auto& e : page["items"]) {
    EXPECT_TRUE(e["action"].get<std::string>().starts_with("user.")) << e;
  }
  EXPECT_EQ(page["items"][0]["action"], "user.create");
  EXPECT_EQ(page["items"][0]["user"], "boss");
  EXPECT_TRUE(IsApiError(boss.Get("/api/v1/audit?since=yesterday"), 400, "invalid_argument"));

  auto disabled = boss.Post("/api/v1/users/erin/disable", "", "application/json");
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->status, 200) << disabled->body;
  auto reset = boss.Post("/api/v1/users/erin/password", "", "application/json");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->status, 200) << reset->body;
}

TEST_F(AuthApiTest, OnlyAnAdminDeletesAStudyAndTheDeletionIsAudited) {
  const std::string id = Upload("ada", 41);
  ASSERT_FALSE(id.empty());
  const std::string path = "/api/v1/predictions/" + id;
  EXPECT_TRUE(IsApiError(As("ada").Delete(path.c_str()), 403, "forbidden"))
      << "not even the doctor who uploaded it";
  EXPECT_TRUE(IsApiError(As("").Delete(path.c_str()), 401, "unauthenticated"));
  auto still = As("ada").Get(path.c_str());
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200) << "a refused deletion deletes nothing";

  auto deleted = As("boss").Delete(path.c_str());
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204) << deleted->body;
  for (const std::string& gone : {path, path + "/image", path + "/heatmap"})
    EXPECT_TRUE(IsApiError(As("boss").Get(gone.c_str()), 404, "not_found")) << gone;
  EXPECT_TRUE(IsApiError(As("boss").Delete(path.c_str()), 404, "not_found"));

  auto audit = As("boss").Get("/api/v1/audit?action=prediction.delete&per_page=10");
  ASSERT_TRUE(audit && audit->status == 200);
  std::vector<std::string> entries;
  const json listed = Json(audit);  // the loop below must not range over a temporary's member
  for (const auto& e : listed["items"])
    entries.push_back(e["user"].get<std::string>() + " " + e["target_id"].get<std::string>() + " " +
                      e["outcome"].get<std::string>());
  EXPECT_NE(std::find(entries.begin(), entries.end(), "boss " + id + " success"), entries.end())
      << ::testing::PrintToString(entries);
  EXPECT_NE(std::find(entries.begin(), entries.end(), "boss " + id + " not_found"), entries.end())
      << ::testing::PrintToString(entries);
}

TEST_F(AuthApiTest, OnlyAnAdminExportsTheHistoryAsCsvAndTheExportIsAudited) {
  auto client = As("bob");
  auto posted = UploadMultipart(client, "/api/v1/predictions", ChestPng(44), "=cmd,quoted.png");
  ASSERT_TRUE(posted && posted->status == 201) << Describe(posted);
  const std::string id = Json(posted)["id"];
  EXPECT_TRUE(IsApiError(As("bob").Get("/api/v1/predictions.csv"), 403, "forbidden"));
  auto csv = As("boss").Get("/api/v1/predictions.csv");
  ASSERT_TRUE(csv);
  ASSERT_EQ(csv->status, 200) << csv->body;
  EXPECT_EQ(MediaType(csv->get_header_value("Content-Type")), "text/csv");
  EXPECT_NE(csv->get_header_value("Content-Disposition").find("attachment"), std::string::npos);
  EXPECT_TRUE(csv->body.starts_with("id,created_at,filename,label,probability,threshold,"))
      << csv->body.substr(0, 200);
  const std::string row = csv->body.substr(csv->body.find("\r\n" + id) + 2);
  EXPECT_TRUE(row.starts_with(id + ",")) << row.substr(0, 200);
  EXPECT_NE(row.find(",\"'=cmd,quoted.png\","), std::string::npos)
      << "the name is quoted and defused: " << row.substr(0, 200);
  EXPECT_NE(row.find(",bob,"), std::string::npos) << row.substr(0, 200);
  std::size_t rows = 0;
  for (std::size_t at = 0; (at = csv->body.find("\r\n", at)) != std::string::npos; at += 2) ++rows;
  auto page = As("boss").Get("/api/v1/predictions?per_page=1");
  ASSERT_TRUE(page && page->status == 200);
  EXPECT_EQ(rows, Json(page)["total"].get<std::size_t>() + 1) << "a header and one row each";
  auto audit = As("boss").Get("/api/v1/audit?action=prediction.export&per_page=5");
  ASSERT_TRUE(audit && audit->status == 200);
  const json listed = Json(audit);
  ASSERT_FALSE(listed["items"].empty());
  EXPECT_EQ(listed["items"][0]["user"], "boss");
  EXPECT_EQ(listed["items"][0]["target_id"], "all");
}

TEST(AuthLegacyClients, TheOriginalsRoutesAnswerWithoutCredentialsOnlyToLegacyClients) {
  TempDir dir;
  const std::string url = "sqlite:" + (dir.path() / "results.db").string();
  PneumoServer server(url, {"--accounts", "--legacy-clients", "127.0.0.1/32"});
  ASSERT_EQ(server.Start(), "");
  auto client = server.Client();
  auto legacy = client.Get("/predictions");
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->status, 200) << legacy->body;
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/predictions"), 401, "unauthenticated"))
      << "only the original's routes are opened";
}

TEST(AuthOff, WithNoAccountsTheSessionRouteSaysSoAndTheOthersAre404) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), {"--no-accounts"});
  ASSERT_EQ(server.Start(), "");
  auto client = server.Client();
  auto who = client.Get("/api/v1/session");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->status, 200);
  EXPECT_EQ(Json(who), (json{{"accounts", false}}));
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/users"), 404, "not_found"));
  auto open = client.Get("/api/v1/predictions");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200) << "--no-accounts: open as before";
  EXPECT_NE(server.LogTail().find("event=accounts_off"), std::string::npos)
      << "--no-accounts must warn at start-up";
  auto posted = UploadRaw(client, "/api/v1/predictions", ChestPng(43), "image/png");
  ASSERT_TRUE(posted && posted->status == 201);
  const std::string path = "/api/v1/predictions/" + Json(posted)["id"].get<std::string>();
  EXPECT_TRUE(IsApiError(client.Delete(path.c_str()), 403, "forbidden"))
      << "without accounts nobody may delete: it could not be audited";
}

TEST(AuthOn, AccountsAreOnByDefault) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string());
  ASSERT_EQ(server.Start(), "");
  auto anonymous = server.AnonymousClient();
  EXPECT_TRUE(IsApiError(anonymous.Get("/api/v1/predictions"), 401, "unauthenticated"));
  auto who = anonymous.Get("/api/v1/session");
  ASSERT_TRUE(who);
  EXPECT_EQ(Json(who), (json{{"accounts", true}, {"user", nullptr}}));
  auto admin = server.Client();
  auto listed = admin.Get("/api/v1/predictions");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << "the fixture admin's token is accepted";
}

}  // namespace
}  // namespace pneumo::serve_testing
