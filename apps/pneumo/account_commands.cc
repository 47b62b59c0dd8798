// pneumo user / token / audit: account administration and the audit trail from the command line,
// against the same store as `pneumo serve` (--store, or SQLite in --data-dir). Every change is
// made as the principal "cli:<OS user>" with admin rights and leaves an audit entry; whoever can
// run this against the store can already write to it.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "apps/pneumo/commands.h"
#include "apps/pneumo/config_file.h"
#include "auth/account_service.h"
#include "auth/audit_json.h"

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

struct StoreArgs {
  std::string store;
  fs::path store_password_file;  // keeps a Redis password off the command line
  fs::path data_dir = DefaultDataDir();
};

void AddStoreOptions(CLI::App* cmd, StoreArgs& args) {
  cmd->add_option("--store", args.store,
                  "Store: sqlite:PATH or redis://[:password@]host[:port][/db] (default: the one "
                  "`pneumo serve` uses, SQLite in --data-dir)");
  cmd->add_option("--store-password-file", args.store_password_file,
                  "The Redis password of --store, from the first line of this file");
  cmd->add_option("--data-dir", args.data_dir,
                  "Where the default SQLite store lives (default: $PNEUMO_DATA_DIR or "
                  "./pneumo-data)");
}

std::string OsUser() {
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* user = std::getenv("USER"); user && *user) return user;
  return "uid" + std::to_string(geteuid());
}

// The stores and the service, opened for one command.
struct Accounts {
  std::unique_ptr<store::AccountStore> accounts;
  std::unique_ptr<store::AuditStore> audit;
  std::unique_ptr<auth::AccountService> service;
  auth::Principal cli = auth::AccountService::CliPrincipal(OsUser());
  auth::RequestInfo request{.client_address = "cli", .request_id = ""};
};

Result<Accounts> OpenAccounts(const StoreArgs& args) {
  auto store = StoreUrlWithPassword(args.store, "", args.store_password_file);
  if (!store) return std::unexpected(store.error());
  auto url = StoreUrlOrDefault(*store, args.data_dir);
  if (!url) return std::unexpected(url.error());
  Accounts opened;
  auto accounts = store::OpenAccountStore(*url);
  if (!accounts) return std::unexpected(accounts.error());
  auto audit = store::OpenAuditStore(*url);
  if (!audit) return std::unexpected(audit.error());
  opened.accounts = std::move(*accounts);
  opened.audit = std::move(*audit);
  opened.service = std::make_unique<auth::AccountService>(*opened.accounts, *opened.audit,
                                                          auth::AccountOptions{});
  return opened;
}

// Prints "pneumo <command>: <message>" to stderr and gives the exit code 1.
int Failed(const std::string& command, const Error& error) {
  std::fprintf(stderr, "pneumo %s: %s\n", command.c_str(), error.message.c_str());
  return 1;
}

std::string Date(std::int64_t ms) { return auth::IsoTimeMs(ms).substr(0, 16) + "Z"; }

// Runs `body` with the opened accounts, turning every error into a message and exit code 1.
template <typename Body>
int WithAccounts(const std::string& command, const StoreArgs& args, Body body) {
  auto opened = OpenAccounts(args);
  if (!opened) return Failed(command, opened.error());
  Result<void> done = body(*opened);
  if (!done) return Failed(command, done.error());
  return 0;
}

void AddUserCommands(CLI::App& app, int& exit_code) {
  CLI::App* user = app.add_subcommand("user", "Manage user accounts (doctors and admins)");
  user->require_subcommand(1);

  struct AddArgs : StoreArgs {
    std::string name, role;
    bool only_if_no_users = false;
  };
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = user->add_subcommand(
      "add", "Create a user; prints a one-time password (last line) to change at first login");
  add->add_option("NAME", add_args->name, "User name: letters, digits, '.', '_', '-'")->required();
  add->add_option("--role", add_args->role, "doctor or admin")->required();
  add->add_flag("--only-if-no-users", add_args->only_if_no_users,
                "Do nothing (exit 0) when the store already has users: for first-start scripts");
  AddStoreOptions(add, *add_args);
  add->callback([add_args, &exit_code] {
    exit_code = WithAccounts("user add", *add_args, [&](Accounts& a) -> Result<void> {
      auto role = auth::ParseRole(add_args->role);
      if (!role) return std::unexpected(role.error());
      if (add_args->only_if_no_users) {
        auto users = a.accounts->ListUsers();
        if (!users) return std::unexpected(users.error());
        if (!users->empty()) return {};  // quietly: start.sh asks on every start
      }
      auto otp = a.service->CreateUser(a.cli, add_args->name, *role, a.request);
      if (!otp) return std::unexpected(otp.error());
      std::printf(
          "created %s '%s'; one-time password (shown once; it must be changed at the "
          "first login):\n%s\n",
          std::string(auth::RoleName(*role)).c_str(), otp->user.c_str(), otp->password.c_str());
      return {};
    });
  });

  auto list_args = std::make_shared<StoreArgs>();
  CLI::App* list = user->add_subcommand("list", "List users, their roles and status");
  AddStoreOptions(list, *list_args);
  list->callback([list_args, &exit_code] {
    exit_code = WithAccounts("user list", *list_args, [&](Accounts& a) -> Result<void> {
      auto users = a.service->ListUsers(a.cli);
      if (!users) return std::unexpected(users.error());
      std::printf("%-24s %-7s %-22s %s\n", "NAME", "ROLE", "STATUS", "CREATED");
      for (const auto& u : *users) {
        const char* status = u.disabled               ? "disabled"
                             : u.must_change_password ? "must-change-password"
                                                      : "active";
        std::printf("%-24s %-7s %-22s %s\n", u.name.c_str(),
                    std::string(auth::RoleName(u.role)).c_str(), status,
                    Date(u.created_at_ms).c_str());
      }
      return {};
    });
  });

  struct NameArgs : StoreArgs {
    std::string name;
  };
  auto disable_args = std::make_shared<NameArgs>();
  CLI::App* disable = user->add_subcommand(
      "disable", "Disable a user: every session and API token of theirs stops working at once");
  disable->add_option("NAME", disable_args->name, "User name")->required();
  AddStoreOptions(disable, *disable_args);
  disable->callback([disable_args, &exit_code] {
    exit_code = WithAccounts("user disable", *disable_args, [&](Accounts& a) -> Result<void> {
      if (auto done = a.service->DisableUser(a.cli, disable_args->name, a.request); !done) {
        return done;
      }
      std::printf("disabled '%s'; their sessions and tokens have ended\n",
                  disable_args->name.c_str());
      return {};
    });
  });

  auto passwd_args = std::make_shared<NameArgs>();
  CLI::App* passwd = user->add_subcommand(
      "passwd", "Give a user a new one-time password (last line); ends their sessions and tokens");
  passwd->add_option("NAME", passwd_args->name, "User name")->required();
  AddStoreOptions(passwd, *passwd_args);
  passwd->callback([passwd_args, &exit_code] {
    exit_code = WithAccounts("user passwd", *passwd_args, [&](Accounts& a) -> Result<void> {
      auto otp = a.service->ResetPassword(a.cli, passwd_args->name, a.request);
      if (!otp) return std::unexpected(otp.error());
      std::printf(
          "new one-time password for '%s' (shown once; it must be changed at the next "
          "login):\n%s\n",
          otp->user.c_str(), otp->password.c_str());
      return {};
    });
  });
}

void AddTokenCommands(CLI::App& app, int& exit_code) {
  CLI::App* token = app.add_subcommand("token", "Manage API tokens (Authorization: Bearer ...)");
  token->require_subcommand(1);

  struct CreateArgs : StoreArgs {
    std::string name, label;
    int days = 0;
  };
  auto create_args = std::make_shared<CreateArgs>();
  CLI::App* create =
      token->add_subcommand("create", "Create an API token for a user; prints it (last line) once");
  create->add_option("NAME", create_args->name, "The user the token acts as")->required();
  create->add_option("--label", create_args->label, "What the token is for");
  create->add_option("--expires", create_args->days, "Days until it expires (default 90)");
  AddStoreOptions(create, *create_args);
  create->callback([create_args, &exit_code] {
    exit_code = WithAccounts("token create", *create_args, [&](Accounts& a) -> Result<void> {
      if (create_args->days < 0) {
        return Fail(ErrorCode::kInvalidArgument, "--expires must be a positive number of days");
      }
      auto made = a.service->CreateToken(a.cli, create_args->name, create_args->label,
                                         create_args->days, a.request);
      if (!made) return std::unexpected(made.error());
      std::printf("token %s for '%s', expires %s (shown once; it cannot be recovered):\n%s\n",
                  made->info.id.c_str(), made->info.user.c_str(),
                  Date(made->info.expires_at_ms).c_str(), made->token.c_str());
      return {};
    });
  });

  struct NameArgs : StoreArgs {
    std::string name;
  };
  auto list_args = std::make_shared<NameArgs>();
  CLI::App* list = token->add_subcommand("list", "List a user's tokens (never their secrets)");
  list->add_option("NAME", list_args->name, "User name")->required();
  AddStoreOptions(list, *list_args);
  list->callback([list_args, &exit_code] {
    exit_code = WithAccounts("token list", *list_args, [&](Accounts& a) -> Result<void> {
      auto tokens = a.service->ListTokens(a.cli, list_args->name);
      if (!tokens) return std::unexpected(tokens.error());
      std::printf("%-16s %-8s %-17s %-17s %s\n", "ID", "STATUS", "CREATED", "EXPIRES", "LABEL");
      for (const auto& t : *tokens) {
        const char* status = t.revoked ? "revoked" : t.expired ? "expired" : "active";
        std::printf("%-16s %-8s %-17s %-17s %s\n", t.id.c_str(), status,
                    Date(t.created_at_ms).c_str(), Date(t.expires_at_ms).c_str(), t.label.c_str());
      }
      return {};
    });
  });

  struct IdArgs : StoreArgs {
    std::string id;
  };
  auto revoke_args = std::make_shared<IdArgs>();
  CLI::App* revoke = token->add_subcommand("revoke", "Revoke a token: it stops working at once");
  revoke->add_option("ID", revoke_args->id, "The token's id (from token list)")->required();
  AddStoreOptions(revoke, *revoke_args);
  revoke->callback([revoke_args, &exit_code] {
    exit_code = WithAccounts("token revoke", *revoke_args, [&](Accounts& a) -> Result<void> {
      if (auto done = a.service->RevokeToken(a.cli, revoke_args->id, a.request); !done) {
        return done;
      }
      std::printf("revoked token %s\n", revoke_args->id.c_str());
      return {};
    });
  });
}

void AddAuditCommands(CLI::App& app, int& exit_code) {
  CLI::App* audit = app.add_subcommand("audit", "Check and export the audit trail");
  audit->require_subcommand(1);

  auto verify_args = std::make_shared<StoreArgs>();
  CLI::App* verify = audit->add_subcommand(
      "verify", "Walk the hash chain; exit 1 naming the first entry that was altered or removed");
  AddStoreOptions(verify, *verify_args);
  verify->callback([verify_args, &exit_code] {
    auto url = StoreUrlOrDefault(verify_args->store, verify_args->data_dir);
    if (!url) {
      exit_code = Failed("audit verify", url.error());
      return;
    }
    auto log = store::OpenAuditStore(*url);
    if (!log) {
      exit_code = Failed("audit verify", log.error());
      return;
    }
    auto check = store::VerifyAuditChain(**log);
    if (!check) {
      exit_code = Failed("audit verify", check.error());
      return;
    }
    if (!check->ok) {
      std::printf("audit log BROKEN at entry %lld: %s\n",
                  static_cast<long long>(check->first_broken_seq), check->problem.c_str());
      exit_code = 1;
      return;
    }
    std::printf("audit log intact: %lld entries\n", static_cast<long long>(check->entries));
    exit_code = 0;
  });

  struct ExportArgs : StoreArgs {
    std::string since, until, user, action;
  };
  auto export_args = std::make_shared<ExportArgs>();
  CLI::App* exporter =
      audit->add_subcommand("export", "Print audit entries as JSON lines, oldest first");
  exporter->add_option(
      "--since", export_args->since,
      "Only entries at or after this UTC time (2026-12-01 or 2026-12-01T08:00:00Z)");
  exporter->add_option("--until", export_args->until, "Only entries before this UTC time");
  exporter->add_option("--user", export_args->user, "Only this user's entries");
  exporter->add_option("--action", export_args->action,
                       "Only this action, or a prefix ending in '.' (e.g. session.)");
  AddStoreOptions(exporter, *export_args);
  exporter->callback([export_args, &exit_code] {
    exit_code = WithAccounts("audit export", *export_args, [&](Accounts& a) -> Result<void> {
      store::AuditFilter filter{.user = export_args->user, .action = export_args->action};
      for (const auto& [text, out] : {std::pair{&export_args->since, &filter.since_ms},
                                      std::pair{&export_args->until, &filter.until_ms}}) {
        if (text->empty()) continue;
        auto ms = auth::ParseIsoTime(*text);
        if (!ms) return std::unexpected(ms.error());
        *out = *ms;
      }
      std::int64_t after = 0, written = 0;
      while (true) {
        auto chunk = a.audit->Scan(after, 1000);
        if (!chunk) return std::unexpected(chunk.error());
        for (const auto& entry : *chunk) {
          after = entry.seq;
          if (!filter.Matches(entry)) continue;
          std::printf("%s\n", auth::AuditEntryJson(entry).dump().c_str());
          ++written;
        }
        if (chunk->size() < 1000) break;
      }
      std::fflush(stdout);
      // The export itself is an access to the trail: record it.
      return a.service->Record(&a.cli, "audit.export", std::to_string(written) + " entries",
                               a.request, "success");
    });
  });
}

}  // namespace

fs::path DefaultDataDir() {
  if (const char* env = std::getenv("PNEUMO_DATA_DIR"); env && *env) return env;
  return "pneumo-data";
}

Result<std::string> StoreUrlOrDefault(const std::string& store, const fs::path& data_dir) {
  if (!store.empty()) return store;
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return Fail(ErrorCode::kIoError,
                "cannot create data directory " + data_dir.string() + ": " + ec.message());
  }
  return "sqlite:" + (data_dir / "results.db").string();
}

void AddAccountCommands(CLI::App& app, int& exit_code) {
  AddUserCommands(app, exit_code);
  AddTokenCommands(app, exit_code);
  AddAuditCommands(app, exit_code);
}

}  // namespace pneumo::app
