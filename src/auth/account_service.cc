#include "auth/account_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/sha256.h"

namespace pneumo::auth {
namespace {

constexpr std::string_view kTokenPrefix = "pnm_";
constexpr std::size_t kTokenIdHex = 16;      // 8 random bytes
constexpr std::size_t kTokenSecretHex = 64;  // 32 random bytes
constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

std::string HashSecret(std::string_view secret) {
  return Sha256Hex(std::span(reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()));
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::unexpected<Error> Unauthenticated(std::string message) {
  return Fail(ErrorCode::kUnauthenticated, std::move(message));
}

std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

UserInfo InfoOf(const store::UserRecord& u) {
  return {.name = u.name,
          .role = u.role == "admin" ? Role::kAdmin : Role::kDoctor,
          .disabled = u.disabled,
          .must_change_password = u.must_change_password,
          .created_at_ms = u.created_at_ms};
}

TokenInfo InfoOf(const store::TokenRecord& t, std::int64_t now_ms) {
  return {.id = t.id,
          .user = t.user,
          .label = t.label,
          .created_at_ms = t.created_at_ms,
          .expires_at_ms = t.expires_at_ms,
          .revoked = t.revoked,
          .expired = t.expires_at_ms <= now_ms};
}

// Releases a counting_semaphore slot on scope exit.
class SlotGuard {
 public:
  explicit SlotGuard(std::counting_semaphore<64>& slots) : slots_(slots) { slots_.acquire(); }
  ~SlotGuard() { slots_.release(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  std::counting_semaphore<64>& slots_;
};

}  // namespace

std::string_view RoleName(Role role) { return role == Role::kAdmin ? "admin" : "doctor"; }

Result<Role> ParseRole(std::string_view name) {
  if (name == "doctor") return Role::kDoctor;
  if (name == "admin") return Role::kAdmin;
  return Fail(ErrorCode::kInvalidArgument,
              "role must be doctor or admin, not '" + std::string(name.substr(0, 32)) + "'");
}

Result<void> CheckUserName(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (!ok) {
    return Fail(ErrorCode::kInvalidArgument,
                "a user name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit");
  }
  return {};
}

AccountService::AccountService(store::AccountStore& accounts, store::AuditStore& audit,
                               AccountOptions options)
    : accounts_(accounts),
      audit_(audit),
      options_(std::move(options)),
      limiter_(options_.limits),
      hashing_slots_(std::clamp(options_.max_concurrent_hashes, 1, 64)) {
  if (!options_.now_ms) options_.now_ms = SystemNowMs;
  auto dummy = HashPassword(RandomHex(16), options_.hashing);
  dummy_hash_ = dummy ? *dummy : "";
}

Principal AccountService::CliPrincipal(std::string_view os_user) {
  return {.user = "cli:" + std::string(os_user), .role = Role::kAdmin, .via = Principal::Via::kCli};
}

bool AccountService::CheckPasswordBounded(std::string_view hash, std::string_view password) {
  SlotGuard slot(hashing_slots_);
  return VerifyPassword(hash, password);
}

Result<std::string> AccountService::HashBounded(std::string_view password) {
  SlotGuard slot(hashing_slots_);
  return HashPassword(password, options_.hashing);
}

void AccountService::Audit(const Principal* actor, std::string_view user_if_none,
                           std::string_view action, std::string_view target,
                           const RequestInfo& request, std::string_view outcome) {
  store::AuditEntry entry{.time_ms = NowMs(),
                          .user = actor ? actor->user : std::string(user_if_none),
                          .role = actor ? std::string(RoleName(actor->role)) : std::string(),
                          .action = std::string(action),
                          .target_id = std::string(target),
                          .client_address = request.client_address,
                          .request_id = request.request_id,
                          .outcome = std::string(outcome)};
  if (auto appended = audit_.Append(entry); !appended) {
    spdlog::error("event=audit_write_failed action={} request_id={} error=\"{}\"", action,
                  request.request_id, appended.error().ToString());
  }
}

Result<void> AccountService::Record(const Principal* actor, std::string_view action,
                                    std::string_view target, const RequestInfo& request,
                                    std::string_view outcome) {
  store::AuditEntry entry{.time_ms = NowMs(),
                          .user = actor ? actor->user : std::string(),
                          .role = actor ? std::string(RoleName(actor->role)) : std::string(),
                          .action = std::string(action),
                          .target_id = std::string(target),
                          .client_address = request.client_address,
                          .request_id = request.request_id,
                          .outcome = std::string(outcome)};
  auto appended = audit_.Append(entry);
  if (!appended) return std::unexpected(appended.error());
  return {};
}

Result<void> AccountService::RequireAdmin(const Principal& actor) const {
  if (actor.role != Role::kAdmin) {
    return Fail(ErrorCode::kPermissionDenied, "only an admin may do this");
  }
  return {};
}

Result<Session> AccountService::StartSession(const store::UserRecord& user) {
  const std::int64_t now = NowMs();
  Session session;
  session.id = RandomHex(32);
  session.csrf_token = RandomHex(32);
  session.expires_at_ms = now + options_.session_absolute.count();
  session.idle_expires_at_ms = std::min(session.expires_at_ms, now + options_.session_idle.count());
  session.principal = {.user = user.name,
                       .role = InfoOf(user).role,
                       .via = Principal::Via::kSession,
                       .credential_id = HashSecret(session.id),
                       .must_change_password = user.must_change_password};
  auto created = accounts_.CreateSession({.id_hash = session.principal.credential_id,
                                          .user = user.name,
                                          .csrf_token = session.csrf_token,
                                          .created_at_ms = now,
                                          .last_seen_ms = now,
                                          .expires_at_ms = session.expires_at_ms});
  if (!created) return std::unexpected(created.error());
  return session;
}

Result<Session> AccountService::Login(std::string_view name, std::string_view password,
                                      const RequestInfo& request) {
  const std::string target(name.substr(0, 64));
  if (auto allowed = limiter_.Check(target, request.client_address, NowMs()); !allowed) {
    Audit(nullptr, target, "session.login", target, request, "rate_limited");
    return std::unexpected(allowed.error());
  }
  auto user = accounts_.GetUser(target);
  if (!user && user.error().code != ErrorCode::kNotFound) return std::unexpected(user.error());
  const bool known = user.has_value() && target == name;
  // An unknown name costs the same Argon2 work as a wrong password.
  const bool password_ok =
      CheckPasswordBounded(known ? user->password_hash : dummy_hash_, password) && known;
  if (!password_ok) {
    limiter_.RecordFailure(target, request.client_address, NowMs());
    Audit(nullptr, target, "session.login", target, request,
          known ? "wrong_password" : "unknown_user");
    return Unauthenticated("wrong user name or password");
  }
  if (user->disabled) {
    limiter_.RecordFailure(target, request.client_address, NowMs());
    Audit(nullptr, target, "session.login", target, request, "disabled");
    return Unauthenticated("this account is disabled");
  }
  limiter_.RecordSuccess(target);
  if (PasswordNeedsRehash(user->password_hash, options_.hashing)) {
    // The cost settings changed since this hash was made: upgrade it now that we know the password.
    if (auto rehashed = HashBounded(password); rehashed) {
      store::UserRecord upgraded = *user;
      upgraded.password_hash = *rehashed;
      if (accounts_.UpdateUser(upgraded, /*end_credentials=*/false)) *user = upgraded;
    }
  }
  auto session = StartSession(*user);
  if (!session) return std::unexpected(session.error());
  Audit(&session->principal, "", "session.login", target, request, "success");
  return session;
}

Result<store::UserRecord> AccountService::ActiveUser(std::string_view name) {
  auto user = accounts_.GetUser(name);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) return Unauthenticated("no such account");
    return std::unexpected(user.error());
  }
  if (user->disabled) return Unauthenticated("this account is disabled");
  return user;
}

Result<Session> AccountService::AuthenticateSession(std::string_view session_id) {
  if (session_id.size() != 64 || !IsHex(session_id)) return Unauthenticated("not logged in");
  const std::string id_hash = HashSecret(session_id);
  auto record = accounts_.GetSession(id_hash);
  if (!record) {
    if (record.error().code == ErrorCode::kNotFound) {
      return Unauthenticated("the session has ended; log in again");
    }
    return std::unexpected(record.error());
  }
  const std::int64_t now = NowMs();
  const std::int64_t idle_end =
      std::min(record->expires_at_ms, record->last_seen_ms + options_.session_idle.count());
  if (now >= idle_end) {
    // Expired either way; a session that could not be deleted is refused again next time.
    if (auto deleted = accounts_.DeleteSession(id_hash); !deleted) {
      spdlog::warn("event=session_delete_failed error=\"{}\"", deleted.error().message);
    }
    return Unauthenticated("the session has expired; log in again");
  }
  auto user = ActiveUser(record->user);
  if (!user) return std::unexpected(user.error());
  Session session;
  session.csrf_token = record->csrf_token;
  session.expires_at_ms = record->expires_at_ms;
  std::int64_t last_seen = record->last_seen_ms;
  // Renew the idle time, but write at most once a minute (or a tenth of the idle time) per
  // session: every request would otherwise be a store write.
  const std::int64_t touch_every =
      std::min<std::int64_t>(60'000, options_.session_idle.count() / 10);
  if (now - last_seen >= touch_every) {
    if (auto touched = accounts_.TouchSession(id_hash, now); touched) last_seen = now;
  }
  session.idle_expires_at_ms =
      std::min(record->expires_at_ms, last_seen + options_.session_idle.count());
  session.principal = {.user = user->name,
                       .role = InfoOf(*user).role,
                       .via = Principal::Via::kSession,
                       .credential_id = id_hash,
                       .must_change_password = user->must_change_password};
  return session;
}

Result<void> AccountService::CheckCsrf(const Session& session, std::string_view presented) const {
  if (presented.empty() || !ConstantTimeEquals(session.csrf_token, presented)) {
    return Fail(ErrorCode::kPermissionDenied,
                "missing or wrong CSRF token (send the session's csrf_token in X-CSRF-Token)");
  }
  return {};
}

Result<void> AccountService::Logout(std::string_view session_id, const RequestInfo& request) {
  if (session_id.size() != 64 || !IsHex(session_id)) return {};
  const std::string id_hash = HashSecret(session_id);
  auto record = accounts_.GetSession(id_hash);
  if (!record) {
    if (record.error().code == ErrorCode::kNotFound) return {};
    return std::unexpected(record.error());
  }
  if (auto deleted = accounts_.DeleteSession(id_hash); !deleted) return deleted;
  Audit(nullptr, record->user, "session.logout", record->user, request, "success");
  return {};
}

Result<Session> AccountService::ChangePassword(const Principal& who, std::string_view old_password,
                                               std::string_view new_password,
                                               const RequestInfo& request) {
  auto user = accounts_.GetUser(who.user);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) return Unauthenticated("no such account");
    return std::unexpected(user.error());
  }
  if (auto allowed = limiter_.Check(who.user, request.client_address, NowMs()); !allowed) {
    return std::unexpected(allowed.error());
  }
  if (!CheckPasswordBounded(user->password_hash, old_password)) {
    limiter_.RecordFailure(who.user, request.client_address, NowMs());
    Audit(&who, "", "user.password_change", who.user, request, "wrong_password");
    return Unauthenticated("the current password is wrong");
  }
  if (new_password.size() < static_cast<std::size_t>(options_.min_password_length)) {
    return Fail(ErrorCode::kInvalidArgument, "the new password must have at least " +
                                                 std::to_string(options_.min_password_length) +
                                                 " characters");
  }
  if (new_password == old_password) {
    return Fail(ErrorCode::kInvalidArgument, "the new password must differ from the current one");
  }
  auto hash = HashBounded(new_password);
  if (!hash) return std::unexpected(hash.error());
  store::UserRecord changed = *user;
  changed.password_hash = *hash;
  changed.must_change_password = false;
  if (auto updated = accounts_.UpdateUser(changed, /*end_credentials=*/true); !updated) {
    return std::unexpected(updated.error());
  }
  Audit(&who, "", "user.password_change", who.user, request, "success");
  return StartSession(changed);
}

Result<Principal> AccountService::AuthenticateToken(std::string_view token) {
  // pnm_<16 hex id>_<64 hex secret>
  if (token.size() != kTokenPrefix.size() + kTokenIdHex + 1 + kTokenSecretHex ||
      !token.starts_with(kTokenPrefix) || token[kTokenPrefix.size() + kTokenIdHex] != '_') {
    return Unauthenticated("malformed API token (expected pnm_<id>_<secret>)");
  }
  const std::string_view id = token.substr(kTokenPrefix.size(), kTokenIdHex);
  const std::string_view secret = token.substr(kTokenPrefix.size() + kTokenIdHex + 1);
  if (!IsHex(id) || !IsHex(secret)) {
    return Unauthenticated("malformed API token (expected pnm_<id>_<secret>)");
  }
  auto record = accounts_.GetToken(id);
  if (!record) {
    if (record.error().code == ErrorCode::kNotFound) return Unauthenticated("unknown API token");
    return std::unexpected(record.error());
  }
  if (!ConstantTimeEquals(record->secret_hash, HashSecret(secret))) {
    return Unauthenticated("unknown API token");
  }
  if (record->revoked) return Unauthenticated("this API token was revoked");
  if (record->expires_at_ms <= NowMs()) return Unauthenticated("this API token has expired");
  auto user = ActiveUser(record->user);
  if (!user) return std::unexpected(user.error());
  return Principal{.user = user->name,
                   .role = InfoOf(*user).role,
                   .via = Principal::Via::kToken,
                   .credential_id = record->id};
}

Result<OneTimePassword> AccountService::CreateUser(const Principal& actor, std::string_view name,
                                                   Role role, const RequestInfo& request) {
  if (auto allowed = RequireAdmin(actor); !allowed) return std::unexpected(allowed.error());
  if (auto valid = CheckUserName(name); !valid) return std::unexpected(valid.error());
  OneTimePassword otp{.user = std::string(name), .password = GenerateOneTimePassword()};
  auto hash = HashBounded(otp.password);
  if (!hash) return std::unexpected(hash.error());
  auto created = accounts_.CreateUser({.name = otp.user,
                                       .role = std::string(RoleName(role)),
                                       .password_hash = *hash,
                                       .disabled = false,
                                       .must_change_password = true,
                                       .created_at_ms = NowMs()});
  if (!created) {
    Audit(&actor, "", "user.create", name, request, "failed");
    return std::unexpected(created.error());
  }
  Audit(&actor, "", "user.create", name, request, "success");
  return otp;
}

Result<std::vector<UserInfo>> AccountService::ListUsers(const Principal& actor) {
  if (auto allowed = RequireAdmin(actor); !allowed) return std::unexpected(allowed.error());
  auto users = accounts_.ListUsers();
  if (!users) return std::unexpected(users.error());
  std::vector<UserInfo> infos;
  for (const auto& u : *users) infos.push_back(InfoOf(u));
  return infos;
}

Result<void> AccountService::DisableUser(const Principal& actor, std::string_view name,
                                         const RequestInfo& request) {
  if (auto allowed = RequireAdmin(actor); !allowed) return allowed;
  if (name == actor.user) {
    return Fail(ErrorCode::kInvalidArgument,
                "you cannot disable your own account; ask another admin");
  }
  auto user = accounts_.GetUser(name);
  if (!user) return std::unexpected(user.error());
  store::UserRecord changed = *user;
  changed.disabled = true;
  if (auto updated = accounts_.UpdateUser(changed, /*end_credentials=*/true); !updated) {
    return updated;
  }
  Audit(&actor, "", "user.disable", name, request, "success");
  return {};
}

Result<OneTimePassword> AccountService::ResetPassword(const Principal& actor, std::string_view name,
                                                      const RequestInfo& request) {
  if (auto allowed = RequireAdmin(actor); !allowed) return std::unexpected(allowed.error());
  auto user = accounts_.GetUser(name);
  if (!user) return std::unexpected(user.error());
  OneTimePassword otp{.user = user->name, .password = GenerateOneTimePassword()};
  auto hash = HashBounded(otp.password);
  if (!hash) return std::unexpected(hash.error());
  store::UserRecord changed = *user;
  changed.password_hash = *hash;
  changed.must_change_password = true;
  if (auto updated = accounts_.UpdateUser(changed, /*end_credentials=*/true); !updated) {
    return std::unexpected(updated.error());
  }
  Audit(&actor, "", "user.password_reset", name, request, "success");
  return otp;
}

Result<NewToken> AccountService::CreateToken(const Principal& actor, std::string_view user_name,
                                             std::string_view label, int days,
                                             const RequestInfo& request) {
  if (actor.user != user_name) {
    if (auto allowed = RequireAdmin(actor); !allowed) return std::unexpected(allowed.error());
  }
  if (days == 0) days = options_.default_token_days;
  if (days < 1 || days > options_.max_token_days) {
    return Fail(ErrorCode::kInvalidArgument,
                "a token expires in 1 to " + std::to_string(options_.max_token_days) + " days");
  }
  if (label.size() > 200 || std::any_of(label.begin(), label.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      })) {
    return Fail(ErrorCode::kInvalidArgument,
                "a token label is at most 200 characters, without control characters");
  }
  auto user = accounts_.GetUser(user_name);
  if (!user) return std::unexpected(user.error());
  if (user->disabled) {
    return Fail(ErrorCode::kInvalidArgument, "'" + user->name + "' is disabled");
  }
  const std::int64_t now = NowMs();
  const std::string id = RandomHex(kTokenIdHex / 2);
  const std::string secret = RandomHex(kTokenSecretHex / 2);
  store::TokenRecord record{.id = id,
                            .user = user->name,
                            .label = std::string(label),
                            .secret_hash = HashSecret(secret),
                            .created_at_ms = now,
                            .expires_at_ms = now + days * kDayMs,
                            .revoked = false};
  if (auto created = accounts_.CreateToken(record); !created) {
    return std::unexpected(created.error());
  }
  Audit(&actor, "", "token.create", id, request, "success");
  return NewToken{.token = std::string(kTokenPrefix) + id + "_" + secret,
                  .info = InfoOf(record, now)};
}

Result<std::vector<TokenInfo>> AccountService::ListTokens(const Principal& actor,
                                                          std::string_view user_name) {
  if (actor.user != user_name) {
    if (auto allowed = RequireAdmin(actor); !allowed) return std::unexpected(allowed.error());
  }
  if (auto user = accounts_.GetUser(user_name); !user) return std::unexpected(user.error());
  auto tokens = accounts_.ListTokens(user_name);
  if (!tokens) return std::unexpected(tokens.error());
  const std::int64_t now = NowMs();
  std::vector<TokenInfo> infos;
  for (const auto& t : *tokens) infos.push_back(InfoOf(t, now));
  return infos;
}

Result<void> AccountService::RevokeToken(const Principal& actor, std::string_view id,
                                         const RequestInfo& request) {
  auto token = accounts_.GetToken(id);
  if (!token) return std::unexpected(token.error());
  if (token->user != actor.user) {
    if (auto allowed = RequireAdmin(actor); !allowed) {
      // Do not tell a doctor whether someone else's token id exists.
      return Fail(ErrorCode::kNotFound, "no token with id '" + std::string(id) + "'");
    }
  }
  if (auto revoked = accounts_.RevokeToken(id); !revoked) return revoked;
  Audit(&actor, "", "token.revoke", id, request, "success");
  return {};
}

}  // namespace pneumo::auth
