// The account and audit store implementations, reached through OpenAccountStore/OpenAuditStore.
#pragma once

#include <memory>
#include <string>

#include "store/account_store.h"
#include "store/audit_store.h"
#include "store/redis_store.h"

namespace pneumo::store::internal {

Result<std::unique_ptr<AccountStore>> OpenSqliteAccountStore(const std::string& path);
Result<std::unique_ptr<AuditStore>> OpenSqliteAuditStore(const std::string& path);
Result<std::unique_ptr<AccountStore>> OpenRedisAccountStore(RedisStore::Options options);
Result<std::unique_ptr<AuditStore>> OpenRedisAuditStore(RedisStore::Options options);

// kInvalidArgument unless page >= 1 and 1 <= per_page <= AuditStore::kMaxPerPage.
Result<void> CheckAuditPaging(int page, int per_page);

// An entry as one string, every field included (Redis keeps one per list element): the
// canonical encoding's length-prefixed fields followed by prev_hash and hash.
std::string EncodeAuditRecord(const AuditEntry& entry);
// The inverse. Text that does not decode (damaged by hand) gives an entry with seq `position`,
// everything else empty and a hash that cannot match, so that VerifyAuditChain reports it.
AuditEntry DecodeAuditRecord(std::string_view text, std::int64_t position);

}  // namespace pneumo::store::internal
