#include "store/account_store.h"

#include "store/internal/backends.h"
#include "store/result_store.h"

namespace pneumo::store {

Result<std::unique_ptr<AccountStore>> OpenAccountStore(std::string_view url) {
  auto parsed = ParseStoreUrl(url);
  if (!parsed) return std::unexpected(parsed.error());
  if (parsed->kind == StoreUrl::Kind::kSqlite) {
    return internal::OpenSqliteAccountStore(parsed->path);
  }
  return internal::OpenRedisAccountStore(
      {.host = parsed->host, .port = parsed->port, .password = parsed->password, .db = parsed->db});
}

}  // namespace pneumo::store
