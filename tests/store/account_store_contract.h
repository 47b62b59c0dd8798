// The behaviour every AccountStore and AuditStore must show, as a typed test suite run against
// each backend (SQLite in account_store_sqlite_test.cc, a real redis-server in
// account_store_redis_test.cc).
//
//   struct Backend {
//     static constexpr char kName[] = "Sqlite";
//     std::string Start();                                   // "" or why the backend is missing
//     std::string Url();                                     // what OpenAccountStore gets
//     std::string Restart();                                 // stop and start the backend
//     std::string AlterAuditOutcome(std::int64_t seq, const std::string& outcome);  // behind
//                                                            // pneumo's back; "" or a problem
//   };
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/account_store.h"
#include "store/audit_store.h"

namespace pneumo::store::testing {

inline UserRecord MakeUser(std::string name, std::string role = "doctor") {
  return {.name = std::move(name),
          .role = std::move(role),
          .password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$ZGlnZXN0",
          .disabled = false,
          .must_change_password = true,
          .created_at_ms = 1'764'600'000'000};
}

inline TokenRecord MakeToken(std::string id, std::string user, std::int64_t created_at_ms) {
  return {.id = std::move(id),
          .user = std::move(user),
          .label = "PACS bridge ü",
          .secret_hash = std::string(64, 'a'),
          .created_at_ms = created_at_ms,
          .expires_at_ms = created_at_ms + 86'400'000,
          .revoked = false};
}

inline SessionRecord MakeSession(std::string id_hash, std::string user) {
  // Absolute expiry far in the future: Redis expires the key for real.
  return {.id_hash = std::move(id_hash),
          .user = std::move(user),
          .csrf_token = std::string(64, 'c'),
          .created_at_ms = 1'764'600'000'000,
          .last_seen_ms = 1'764'600'000'000,
          .expires_at_ms = 4'102'444'800'000};  // 2100-01-01
}

inline AuditEntry MakeEvent(std::string user, std::string action, std::int64_t time_ms) {
  return {.time_ms = time_ms,
          .user = std::move(user),
          .role = "doctor",
          .action = std::move(action),
          .target_id = "01M8C6D6XK39J3549NKWSEB9EH",
          .client_address = "10.0.0.7",
          .request_id = "req-1",
          .outcome = "success"};
}

struct AccountBackendNames {
  template <typename Backend>
  static std::string GetName(int) {
    return Backend::kName;
  }
};

template <typename Backend>
class AccountStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string problem = backend_.Start();
    ASSERT_EQ(problem, "") << problem;
    ASSERT_NO_FATAL_FAILURE(Reopen());
  }

  void Reopen() {
    accounts_.reset();
    audit_.reset();
    auto accounts = OpenAccountStore(backend_.Url());
    ASSERT_TRUE(accounts) << accounts.error().ToString();
    accounts_ = std::move(*accounts);
    auto audit = OpenAuditStore(backend_.Url());
    ASSERT_TRUE(audit) << audit.error().ToString();
    audit_ = std::move(*audit);
  }

  void AddUser(const UserRecord& user) {
    auto created = accounts_->CreateUser(user);
    ASSERT_TRUE(created) << created.error().ToString();
  }

  void Append(int n, const std::string& user = "ada") {
    for (int i = 0; i < n; ++i) {
      auto appended = audit_->Append(MakeEvent(user, "prediction.view", 1000 + i));
      ASSERT_TRUE(appended) << appended.error().ToString();
    }
  }

  Backend backend_;
  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<AuditStore> audit_;
};

TYPED_TEST_SUITE_P(AccountStoreContract);

TYPED_TEST_P(AccountStoreContract, KeepsEveryFieldOfAUser) {
  UserRecord ada = MakeUser("ada", "admin");
  ada.disabled = true;
  ada.must_change_password = false;
  ASSERT_NO_FATAL_FAILURE(this->AddUser(ada));
  auto got = this->accounts_->GetUser("ada");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->name, "ada");
  EXPECT_EQ(got->role, "admin");
  EXPECT_EQ(got->password_hash, ada.password_hash);
  EXPECT_TRUE(got->disabled);
  EXPECT_FALSE(got->must_change_password);
  EXPECT_EQ(got->created_at_ms, ada.created_at_ms);
}

TYPED_TEST_P(AccountStoreContract, RefusesADuplicateOrEmptyUserName) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  UserRecord again = MakeUser("ada", "admin");
  again.password_hash = "other";
  auto dup = this->accounts_->CreateUser(again);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(dup.error().message.find("ada"), std::string::npos) << dup.error().message;
  EXPECT_EQ(this->accounts_->GetUser("ada")->role, "doctor") << "must not be overwritten";
  EXPECT_EQ(this->accounts_->CreateUser(MakeUser("")).error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(AccountStoreContract, AnUnknownUserIsNotFound) {
  auto got = this->accounts_->GetUser("nobody");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  auto updated = this->accounts_->UpdateUser(MakeUser("nobody"), /*end_credentials=*/true);
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(this->accounts_->GetUser("nobody")) << "an update must not create the user";
}

TYPED_TEST_P(AccountStoreContract, ListsUsersByName) {
  auto none = this->accounts_->ListUsers();
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->empty());
  for (const char* name : {"carol", "ada", "bob"}) {
    ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser(name)));
  }
  auto users = this->accounts_->ListUsers();
  ASSERT_TRUE(users) << users.error().ToString();
  std::vector<std::string> names;
  for (const auto& u : *users) names.push_back(u.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ada", "bob", "carol"}));
}

TYPED_TEST_P(AccountStoreContract, UpdatesAUserButKeepsItsCreationTime) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  UserRecord changed = MakeUser("ada", "admin");
  changed.password_hash = "new-hash";
  changed.must_change_password = false;
  changed.created_at_ms = 5;
  ASSERT_TRUE(this->accounts_->UpdateUser(changed, /*end_credentials=*/false));
  auto got = this->accounts_->GetUser("ada");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->role, "admin");
  EXPECT_EQ(got->password_hash, "new-hash");
  EXPECT_FALSE(got->must_change_password);
  EXPECT_EQ(got->created_at_ms, MakeUser("ada").created_at_ms);
}

TYPED_TEST_P(AccountStoreContract, KeepsTokensPerUserNewestFirst) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("bob")));
  for (const auto& t : {MakeToken("t-old", "ada", 100), MakeToken("t-new", "ada", 300),
                        MakeToken("t-bob", "bob", 200)}) {
    auto created = this->accounts_->CreateToken(t);
    ASSERT_TRUE(created) << created.error().ToString();
  }
  auto got = this->accounts_->GetToken("t-old");
  ASSERT_TRUE(got) << got.error().ToString();
  const TokenRecord expected = MakeToken("t-old", "ada", 100);
  EXPECT_EQ(got->user, "ada");
  EXPECT_EQ(got->label, expected.label);
  EXPECT_EQ(got->secret_hash, expected.secret_hash);
  EXPECT_EQ(got->created_at_ms, 100);
  EXPECT_EQ(got->expires_at_ms, expected.expires_at_ms);
  EXPECT_FALSE(got->revoked);
  auto listed = this->accounts_->ListTokens("ada");
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "t-new");
  EXPECT_EQ((*listed)[1].id, "t-old");
  EXPECT_TRUE(this->accounts_->ListTokens("nobody")->empty());
}

TYPED_TEST_P(AccountStoreContract, RefusesTokensForUnknownUsersAndDuplicateIds) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  auto orphan = this->accounts_->CreateToken(MakeToken("t1", "nobody", 1));
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(this->accounts_->CreateToken(MakeToken("t1", "ada", 1)));
  auto dup = this->accounts_->CreateToken(MakeToken("t1", "ada", 2));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->accounts_->GetToken("t1")->created_at_ms, 1);
  EXPECT_EQ(this->accounts_->GetToken("t2").error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(AccountStoreContract, RevokesATokenIdempotently) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  ASSERT_TRUE(this->accounts_->CreateToken(MakeToken("t1", "ada", 1)));
  ASSERT_TRUE(this->accounts_->RevokeToken("t1"));
  EXPECT_TRUE(this->accounts_->GetToken("t1")->revoked);
  EXPECT_TRUE(this->accounts_->RevokeToken("t1"));
  auto unknown = this->accounts_->RevokeToken("nope");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->accounts_->GetToken("nope").error().code, ErrorCode::kNotFound)
      << "revoking must not create a token";
}

TYPED_TEST_P(AccountStoreContract, KeepsTouchesAndDeletesSessions) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  const SessionRecord s = MakeSession("h1", "ada");
  ASSERT_TRUE(this->accounts_->CreateSession(s));
  auto got = this->accounts_->GetSession("h1");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->user, "ada");
  EXPECT_EQ(got->csrf_token, s.csrf_token);
  EXPECT_EQ(got->created_at_ms, s.created_at_ms);
  EXPECT_EQ(got->last_seen_ms, s.last_seen_ms);
  EXPECT_EQ(got->expires_at_ms, s.expires_at_ms);
  ASSERT_TRUE(this->accounts_->TouchSession("h1", s.last_seen_ms + 5000));
  EXPECT_EQ(this->accounts_->GetSession("h1")->last_seen_ms, s.last_seen_ms + 5000);
  ASSERT_TRUE(this->accounts_->DeleteSession("h1"));
  EXPECT_EQ(this->accounts_->GetSession("h1").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(this->accounts_->DeleteSession("h1")) << "idempotent";
  EXPECT_EQ(this->accounts_->TouchSession("h1", 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->accounts_->GetSession("h1").error().code, ErrorCode::kNotFound)
      << "touching must not bring a session back";
}

TYPED_TEST_P(AccountStoreContract, RefusesSessionsForUnknownUsersAndDuplicateIds) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  EXPECT_EQ(this->accounts_->CreateSession(MakeSession("h1", "nobody")).error().code,
            ErrorCode::kNotFound);
  ASSERT_TRUE(this->accounts_->CreateSession(MakeSession("h1", "ada")));
  EXPECT_EQ(this->accounts_->CreateSession(MakeSession("h1", "ada")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->accounts_->CreateSession(MakeSession("", "ada")).error().code,
            ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(AccountStoreContract, EndingCredentialsEndsEverySessionAndTokenOfThatUserOnly) {
  for (const char* name : {"ada", "bob"}) ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser(name)));
  for (const char* h : {"a1", "a2"})
    ASSERT_TRUE(this->accounts_->CreateSession(MakeSession(h, "ada")));
  ASSERT_TRUE(this->accounts_->CreateSession(MakeSession("b1", "bob")));
  ASSERT_TRUE(this->accounts_->CreateToken(MakeToken("ta1", "ada", 1)));
  ASSERT_TRUE(this->accounts_->CreateToken(MakeToken("ta2", "ada", 2)));
  ASSERT_TRUE(this->accounts_->CreateToken(MakeToken("tb1", "bob", 3)));

  UserRecord disabled = MakeUser("ada");
  disabled.disabled = true;
  ASSERT_TRUE(this->accounts_->UpdateUser(disabled, /*end_credentials=*/true));

  EXPECT_TRUE(this->accounts_->GetUser("ada")->disabled);
  EXPECT_EQ(this->accounts_->GetSession("a1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->accounts_->GetSession("a2").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(this->accounts_->GetToken("ta1")->revoked);
  EXPECT_TRUE(this->accounts_->GetToken("ta2")->revoked);
  EXPECT_TRUE(this->accounts_->GetSession("b1")) << "another user's session must stay";
  EXPECT_FALSE(this->accounts_->GetToken("tb1")->revoked);
  // A session created afterwards is unaffected by the earlier change.
  ASSERT_TRUE(this->accounts_->CreateSession(MakeSession("a3", "ada")));
  EXPECT_TRUE(this->accounts_->GetSession("a3"));
}

TYPED_TEST_P(AccountStoreContract, KeepsAccountsAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(this->AddUser(MakeUser("ada")));
  ASSERT_TRUE(this->accounts_->CreateToken(MakeToken("t1", "ada", 1)));
  ASSERT_TRUE(this->accounts_->CreateSession(MakeSession("h1", "ada")));
  ASSERT_NO_FATAL_FAILURE(this->Append(3));
  this->accounts_.reset();
  this->audit_.reset();
  const std::string problem = this->backend_.Restart();
  ASSERT_EQ(problem, "") << problem;
  ASSERT_NO_FATAL_FAILURE(this->Reopen());
  EXPECT_TRUE(this->accounts_->GetUser("ada"));
  EXPECT_TRUE(this->accounts_->GetToken("t1"));
  EXPECT_TRUE(this->accounts_->GetSession("h1"));
  auto next = this->audit_->Append(MakeEvent("ada", "session.logout", 5000));
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(next->seq, 4);
  auto check = VerifyAuditChain(*this->audit_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, 4);
}

TYPED_TEST_P(AccountStoreContract, AppendsAHashChainedAuditLog) {
  auto first = this->audit_->Append(MakeEvent("ada", "session.login", 1000));
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->prev_hash, kAuditGenesisHash);
  EXPECT_EQ(first->hash, AuditEntryHash(*first));
  auto second = this->audit_->Append(MakeEvent("ada", "prediction.view", 2000));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->seq, 2);
  EXPECT_EQ(second->prev_hash, first->hash);
  EXPECT_NE(second->hash, first->hash);

  auto scanned = this->audit_->Scan(0, 10);
  ASSERT_TRUE(scanned) << scanned.error().ToString();
  ASSERT_EQ(scanned->size(), 2u);
  const AuditEntry& e = (*scanned)[0];
  const AuditEntry expected = MakeEvent("ada", "session.login", 1000);
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(e.time_ms, 1000);
  EXPECT_EQ(e.user, expected.user);
  EXPECT_EQ(e.role, expected.role);
  EXPECT_EQ(e.action, expected.action);
  EXPECT_EQ(e.target_id, expected.target_id);
  EXPECT_EQ(e.client_address, expected.client_address);
  EXPECT_EQ(e.request_id, expected.request_id);
  EXPECT_EQ(e.outcome, expected.outcome);
  EXPECT_EQ(e.hash, first->hash);
  EXPECT_EQ(this->audit_->Scan(1, 10)->size(), 1u);
  EXPECT_TRUE(this->audit_->Scan(2, 10)->empty());
  EXPECT_EQ(this->audit_->Append(MakeEvent("ada", "", 1)).error().code,
            ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(AccountStoreContract, ListsAuditEntriesNewestFirstWithFilters) {
  for (const auto& [user, action, t] :
       std::vector<std::tuple<std::string, std::string, int>>{{"ada", "session.login", 100},
                                                              {"bob", "session.login", 200},
                                                              {"ada", "prediction.view", 300},
                                                              {"ada", "prediction.delete", 400},
                                                              {"bob", "prediction.view", 500}}) {
    ASSERT_TRUE(this->audit_->Append(MakeEvent(user, action, t)));
  }
  auto seqs = [&](const AuditFilter& filter, int page, int per_page) {
    std::vector<std::int64_t> out;
    auto listed = this->audit_->List(filter, page, per_page);
    EXPECT_TRUE(listed) << listed.error().ToString();
    if (listed) {
      for (const auto& e : listed->items) out.push_back(e.seq);
    }
    return out;
  };
  EXPECT_EQ(seqs({}, 1, 2), (std::vector<std::int64_t>{5, 4}));
  EXPECT_EQ(seqs({}, 3, 2), (std::vector<std::int64_t>{1}));
  EXPECT_TRUE(seqs({}, 4, 2).empty());
  EXPECT_EQ(seqs({.user = "ada"}, 1, 10), (std::vector<std::int64_t>{4, 3, 1}));
  EXPECT_EQ(seqs({.action = "session.login"}, 1, 10), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(seqs({.action = "prediction."}, 1, 10), (std::vector<std::int64_t>{5, 4, 3}));
  EXPECT_TRUE(seqs({.action = "prediction"}, 1, 10).empty()) << "no prefix without the dot";
  EXPECT_EQ(seqs({.since_ms = 200, .until_ms = 400}, 1, 10), (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(seqs({.user = "ada", .action = "prediction.", .since_ms = 350}, 1, 10),
            (std::vector<std::int64_t>{4}));
  auto page = this->audit_->List({.user = "ada"}, 2, 2);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 3);
  EXPECT_EQ(page->page, 2);
  EXPECT_EQ(page->per_page, 2);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].seq, 1);
  EXPECT_EQ(page->items[0].hash, AuditEntryHash(page->items[0]));
  for (const auto& [p, n] : std::vector<std::pair<int, int>>{{0, 10}, {1, 0}, {1, 501}}) {
    EXPECT_EQ(this->audit_->List({}, p, n).error().code, ErrorCode::kInvalidArgument);
  }
}

TYPED_TEST_P(AccountStoreContract, VerifiesAnIntactAuditLog) {
  auto empty = VerifyAuditChain(*this->audit_);
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->ok);
  EXPECT_EQ(empty->entries, 0);
  ASSERT_NO_FATAL_FAILURE(this->Append(1003));  // more than one Scan chunk (1000)
  auto check = VerifyAuditChain(*this->audit_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, 1003);
}

TYPED_TEST_P(AccountStoreContract, VerifyNamesAnEntryAlteredInTheDatabase) {
  ASSERT_NO_FATAL_FAILURE(this->Append(6));
  const std::string problem = this->backend_.AlterAuditOutcome(4, "failure");
  ASSERT_EQ(problem, "") << problem;
  auto altered = this->audit_->Scan(3, 1);
  ASSERT_TRUE(altered && altered->size() == 1);
  ASSERT_EQ((*altered)[0].outcome, "failure") << "the backend did not alter the entry";
  auto check = VerifyAuditChain(*this->audit_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_FALSE(check->ok);
  EXPECT_EQ(check->first_broken_seq, 4);
  EXPECT_NE(check->problem.find("entry 4"), std::string::npos) << check->problem;
}

TYPED_TEST_P(AccountStoreContract, ConcurrentWritersKeepOneChain) {
  // Two store instances (as two servers, or a server and the CLI) and several threads each.
  auto other = OpenAuditStore(this->backend_.Url());
  ASSERT_TRUE(other) << other.error().ToString();
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    AuditStore* store = t % 2 ? other->get() : this->audit_.get();
    threads.emplace_back([store, t, &failures] {
      for (int i = 0; i < kEach; ++i) {
        if (!store->Append(
                MakeEvent(std::string("u").append(std::to_string(t)), "prediction.view", i))) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  auto check = VerifyAuditChain(*this->audit_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, kThreads * kEach);
}

REGISTER_TYPED_TEST_SUITE_P(AccountStoreContract, KeepsEveryFieldOfAUser,
                            RefusesADuplicateOrEmptyUserName, AnUnknownUserIsNotFound,
                            ListsUsersByName, UpdatesAUserButKeepsItsCreationTime,
                            KeepsTokensPerUserNewestFirst,
                            RefusesTokensForUnknownUsersAndDuplicateIds, RevokesATokenIdempotently,
                            KeepsTouchesAndDeletesSessions,
                            RefusesSessionsForUnknownUsersAndDuplicateIds,
                            EndingCredentialsEndsEverySessionAndTokenOfThatUserOnly,
                            KeepsAccountsAcrossARestart, AppendsAHashChainedAuditLog,
                            ListsAuditEntriesNewestFirstWithFilters, VerifiesAnIntactAuditLog,
                            VerifyNamesAnEntryAlteredInTheDatabase, ConcurrentWritersKeepOneChain);

}  // namespace pneumo::store::testing
