// Where user accounts, API tokens and web sessions are kept: the same backend as the predictions
// (sqlite:PATH or redis://...), through its own small interface so ResultStore stays about
// predictions. Secrets never reach the store in the clear: tokens and session ids are stored as
// SHA-256 digests, passwords as Argon2id strings (auth/password.h makes them).
//
//   Result<std::unique_ptr<AccountStore>> accounts =
//   OpenAccountStore("sqlite:pneumo-data/results.db");
//   (*accounts)->CreateUser({.name = "ada", .role = "doctor", .password_hash = hash});
//   Result<UserRecord> ada = (*accounts)->GetUser("ada");
//
// Both implementations pass the same contract test suite (tests/store/account_store_contract.h).
// Policy (who may do what, expiry, rate limits) is auth::AccountService's; this layer only keeps
// records and makes multi-record changes atomic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pneumo::store {

struct UserRecord {
  std::string name;           // unique, non-empty; [A-Za-z0-9._-], checked by AccountService
  std::string role;           // "doctor" or "admin"
  std::string password_hash;  // crypto_pwhash_str output (Argon2id, salt and parameters inside)
  bool disabled = false;
  bool must_change_password = true;  // set for one-time passwords
  std::int64_t created_at_ms = 0;    // Unix milliseconds
};

struct TokenRecord {
  std::string id;           // public part of the token, unique (hex)
  std::string user;         // owner's name
  std::string label;        // what it is for, free text
  std::string secret_hash;  // lower-case hex SHA-256 of the secret part
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;  // Unix milliseconds; always set
  bool revoked = false;
};

struct SessionRecord {
  std::string id_hash;     // lower-case hex SHA-256 of the cookie value (the key)
  std::string user;        // owner's name
  std::string csrf_token;  // kept as is: useless without the cookie, and the page must re-read it
  std::int64_t created_at_ms = 0;
  std::int64_t last_seen_ms = 0;   // for the idle expiry
  std::int64_t expires_at_ms = 0;  // absolute expiry; the store may forget the session after it
};

// Thread-safe: every method may be called from any thread; implementations serialise access to
// their connection. A backend outage gives kUnavailable. Several processes (servers, the CLI) may
// share one backend.
class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // kInvalidArgument when the name is empty or already taken.
  virtual Result<void> CreateUser(const UserRecord& user) = 0;
  // kNotFound when there is no such user.
  virtual Result<UserRecord> GetUser(std::string_view name) = 0;
  // Every user, by name.
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;
  // Replaces role, password_hash, disabled and must_change_password of the user `user.name`
  // (created_at stays). With `end_credentials`, in the same atomic change every session of the
  // user is deleted and every token revoked. kNotFound when there is no such user.
  virtual Result<void> UpdateUser(const UserRecord& user, bool end_credentials) = 0;

  // kInvalidArgument when the id is empty or taken; kNotFound when the user does not exist.
  virtual Result<void> CreateToken(const TokenRecord& token) = 0;
  // kNotFound when there is no token with this id.
  virtual Result<TokenRecord> GetToken(std::string_view id) = 0;
  // The user's tokens (revoked and expired included), newest first.
  virtual Result<std::vector<TokenRecord>> ListTokens(std::string_view user) = 0;
  // Marks the token revoked (idempotent). kNotFound when there is no token with this id.
  virtual Result<void> RevokeToken(std::string_view id) = 0;

  // kInvalidArgument when id_hash is empty or taken; kNotFound when the user does not exist.
  virtual Result<void> CreateSession(const SessionRecord& session) = 0;
  // kNotFound when there is no such session (or the store already forgot an expired one).
  virtual Result<SessionRecord> GetSession(std::string_view id_hash) = 0;
  // Sets last_seen_ms. kNotFound when there is no such session.
  virtual Result<void> TouchSession(std::string_view id_hash, std::int64_t last_seen_ms) = 0;
  // Idempotent.
  virtual Result<void> DeleteSession(std::string_view id_hash) = 0;

  virtual Result<void> Ping() = 0;
  virtual std::string Describe() const = 0;  // the URL without any password
};

// Opens the account store at a result-store URL (store/result_store.h: sqlite:PATH or
// redis://[:password@]host[:port][/db]); same errors as OpenStore. For SQLite the accounts live in
// their own tables of the same file.
Result<std::unique_ptr<AccountStore>> OpenAccountStore(std::string_view url);

}  // namespace pneumo::store
