// Accounts, roles, API tokens and web sessions: every decision about who may do what.
//
//   AccountService accounts(account_store, audit_store, AccountOptions{});
//   auto session = accounts.Login("ada", password, {.client_address = ip, .request_id = rid});
//   // -> Set-Cookie: pneumo_session=<session->id>; the page keeps session->csrf_token
//   auto principal = accounts.AuthenticateToken(bearer);      // Authorization: Bearer pnm_...
//   auto current = accounts.AuthenticateSession(cookie);       // then, on POST/PUT/DELETE:
//   if (auto ok = accounts.CheckCsrf(*current, header); !ok) ... // 403
//   auto created = accounts.CreateUser(admin, "bob", Role::kDoctor, request);  // -> one-time pw
//
// Errors the HTTP layer maps: kUnauthenticated (401: credentials missing, wrong, expired, revoked,
// or the account disabled), kPermissionDenied (403: the role does not allow it, or a bad CSRF
// token), kRateLimited (429: too many failed logins; the message says how long to wait),
// kInvalidArgument (400), kNotFound (404), kUnavailable (503: the store is down).
//
// Every change and every login leaves an audit entry (see docs/security-api.md for the actions);
// an entry that cannot be written is logged as an error and does not undo the change.
//
// Thread-safe: the stores are; the rate limiter has its own mutex; Argon2 runs at most
// `max_concurrent_hashes` at a time so that a login flood cannot exhaust memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

#include "auth/login_limiter.h"
#include "auth/secrets.h"
#include "core/error.h"
#include "store/account_store.h"
#include "store/audit_store.h"

namespace pneumo::auth {

enum class Role { kDoctor, kAdmin };
std::string_view RoleName(Role role);  // "doctor", "admin"
// kInvalidArgument naming the allowed roles.
Result<Role> ParseRole(std::string_view name);

// Who is making a request, once authenticated.
struct Principal {
  enum class Via { kSession, kToken, kCli };
  std::string user;  // the account's name; "cli:<os user>" for the command line
  Role role = Role::kDoctor;
  Via via = Via::kSession;
  std::string credential_id;          // token id, or the session's id hash; "" for the CLI
  bool must_change_password = false;  // sessions only: allow nothing but the password change
};

// Where a request came from, for the audit trail and the per-address rate limit.
struct RequestInfo {
  std::string client_address;  // remote IP (or the proxy's X-Real-IP when trusted); "cli"
  std::string request_id;      // the X-Request-Id, or ""
};

struct Session {
  std::string id;  // the cookie value; set only when the session is created (Login,
                   // ChangePassword), never stored in the clear
  std::string csrf_token;
  Principal principal;
  std::int64_t expires_at_ms = 0;       // absolute end, Unix ms
  std::int64_t idle_expires_at_ms = 0;  // end unless used before then (never past expires_at_ms)
};

struct UserInfo {  // a user as admins see it (no password hash)
  std::string name;
  Role role = Role::kDoctor;
  bool disabled = false;
  bool must_change_password = false;
  std::int64_t created_at_ms = 0;
};

struct TokenInfo {  // a token as its owner and admins see it (no secret)
  std::string id, user, label;
  std::int64_t created_at_ms = 0, expires_at_ms = 0;
  bool revoked = false;
  bool expired = false;  // at the time of listing
};

struct OneTimePassword {
  std::string user;
  std::string password;  // show once; the user must change it at first login
};

struct NewToken {
  std::string token;  // "pnm_<id>_<secret>": show once, it cannot be recovered
  TokenInfo info;
};

struct AccountOptions {
  std::chrono::milliseconds session_idle{30 * 60 * 1000};           // 30 min
  std::chrono::milliseconds session_absolute{12 * 60 * 60 * 1000};  // 12 h
  int min_password_length = 12;  // characters (UTF-8 bytes, really)
  int default_token_days = 90;   // when CreateToken gets no expiry
  int max_token_days = 366 * 5;  // tokens do not live forever
  LoginLimits limits;            // 5 per account, 20 per address, per 15 min
  PasswordHashing hashing = PasswordHashing::Interactive();
  int max_concurrent_hashes = 2;         // Argon2 INTERACTIVE takes 64 MiB each
  std::function<std::int64_t()> now_ms;  // Unix ms; default: the system clock (tests inject)
};

class AccountService {
 public:
  // REQUIRES: both stores outlive the service.
  AccountService(store::AccountStore& accounts, store::AuditStore& audit, AccountOptions options);

  // A principal for the command line: admin rights, user "cli:<os_user>".
  static Principal CliPrincipal(std::string_view os_user);

  // --- web sessions ---
  // kRateLimited before anything else; kUnauthenticated "wrong user name or password" for an
  // unknown user or wrong password (same words and, roughly, same time), "this account is
  // disabled" only once the password was right.
  Result<Session> Login(std::string_view name, std::string_view password,
                        const RequestInfo& request);
  // The session behind a cookie value, its idle time renewed. kUnauthenticated when unknown,
  // expired (idle or absolute) or of a disabled user.
  Result<Session> AuthenticateSession(std::string_view session_id);
  // kPermissionDenied unless `presented` is the session's CSRF token.
  Result<void> CheckCsrf(const Session& session, std::string_view presented) const;
  // Ends the session (idempotent: an unknown id is fine).
  Result<void> Logout(std::string_view session_id, const RequestInfo& request);
  // The caller's own password. kUnauthenticated when `old_password` is wrong, kInvalidArgument
  // when the new one is too short or the same. Ends every session and token of the user and
  // returns a fresh session (set it as the new cookie).
  Result<Session> ChangePassword(const Principal& who, std::string_view old_password,
                                 std::string_view new_password, const RequestInfo& request);

  // --- API tokens ---
  // kUnauthenticated for a malformed, unknown, wrong, revoked or expired token, or a disabled
  // user.
  Result<Principal> AuthenticateToken(std::string_view token);

  // --- administration (admin role, except where a user acts on their own tokens) ---
  Result<OneTimePassword> CreateUser(const Principal& actor, std::string_view name, Role role,
                                     const RequestInfo& request);
  Result<std::vector<UserInfo>> ListUsers(const Principal& actor);
  // Ends every session and token of the user at once. kInvalidArgument for disabling oneself.
  Result<void> DisableUser(const Principal& actor, std::string_view name,
                           const RequestInfo& request);
  // A new one-time password; ends every session and token of the user.
  Result<OneTimePassword> ResetPassword(const Principal& actor, std::string_view name,
                                        const RequestInfo& request);
  // For `user` (an admin for anyone, a user for themselves). `days` 0: default_token_days.
  Result<NewToken> CreateToken(const Principal& actor, std::string_view user,
                               std::string_view label, int days, const RequestInfo& request);
  Result<std::vector<TokenInfo>> ListTokens(const Principal& actor, std::string_view user);
  Result<void> RevokeToken(const Principal& actor, std::string_view id, const RequestInfo& request);

  // Appends an audit entry for `actor` (null: nobody authenticated). For the HTTP layer's own
  // actions (uploads, views, listings, deletions). Returns the store's error, if any.
  Result<void> Record(const Principal* actor, std::string_view action, std::string_view target,
                      const RequestInfo& request, std::string_view outcome);

  std::int64_t NowMs() const { return options_.now_ms(); }

 private:
  Result<void> RequireAdmin(const Principal& actor) const;
  Result<Session> StartSession(const store::UserRecord& user);
  // The account a session or token acts for: kUnauthenticated when it is gone or disabled.
  Result<store::UserRecord> ActiveUser(std::string_view name);
  // Records for actions done by `actor`; logs (does not return) a failure to write.
  void Audit(const Principal* actor, std::string_view user_if_none, std::string_view action,
             std::string_view target, const RequestInfo& request, std::string_view outcome);
  bool CheckPasswordBounded(std::string_view hash, std::string_view password);
  Result<std::string> HashBounded(std::string_view password);

  store::AccountStore& accounts_;
  store::AuditStore& audit_;
  AccountOptions options_;
  LoginLimiter limiter_;
  std::counting_semaphore<64> hashing_slots_;
  std::string dummy_hash_;  // verified against for unknown users, so they take as long
};

// Checks a user name: 1..64 of [A-Za-z0-9._-], starting with a letter or digit.
Result<void> CheckUserName(std::string_view name);

}  // namespace pneumo::auth
