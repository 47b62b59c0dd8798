// The audit trail: an append-only, hash-chained record of who did what, when, from where.
//
//   Result<std::unique_ptr<AuditStore>> audit = OpenAuditStore("sqlite:pneumo-data/results.db");
//   (*audit)->Append({.time_ms = NowMs(), .user = "ada", .role = "doctor",
//                     .action = "prediction.view", .target_id = id, .outcome = "success"});
//   Result<AuditPage> page = (*audit)->List({.user = "ada"}, /*page=*/1, /*per_page=*/50);
//   Result<ChainCheck> check = VerifyAuditChain(**audit);   // check->ok, check->first_broken_seq
//
// Each entry's hash is SHA-256 over its canonical encoding (AuditCanonicalEncoding) followed by
// the previous entry's hash (64 zeros for the first), so changing, inserting or removing an entry
// anywhere but at the very end breaks the chain from that entry on. There is deliberately no
// method that changes or deletes an entry. What the chain cannot show on its own: the newest
// entries cut off the end; keep exported copies (pneumo audit export) to compare against.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pneumo::store {

struct AuditEntry {
  std::int64_t seq = 0;         // 1, 2, 3...; assigned by Append
  std::int64_t time_ms = 0;     // Unix milliseconds
  std::string user;             // who ("" when unknown, e.g. a failed login for no such user)
  std::string role;             // "doctor", "admin", or "" when unknown
  std::string action;           // dotted verb, e.g. "session.login", "prediction.view"
  std::string target_id;        // what it was done to (prediction id, user name, token id), or ""
  std::string client_address;   // remote IP, or "cli"
  std::string request_id;       // the HTTP request id, or ""
  std::string outcome;          // "success", or a short reason such as "wrong_password"
  std::string prev_hash, hash;  // lower-case hex SHA-256; assigned by Append
};

struct AuditFilter {
  std::string user;           // exact match; "" matches all
  std::string action;         // exact match, or a prefix ending in '.' ("user." matches
                              // "user.create"); "" matches all
  std::int64_t since_ms = 0;  // time_ms >= since_ms; 0: no lower bound
  std::int64_t until_ms = 0;  // time_ms < until_ms; 0: no upper bound
  bool Matches(const AuditEntry& entry) const;
};

struct AuditPage {
  std::vector<AuditEntry> items;  // newest first
  std::int64_t total = 0;         // entries matching the filter
  int page = 1;
  int per_page = 50;
};

// Thread-safe; several processes may append to one backend: Append is atomic against other
// writers (the chain never forks). A backend outage gives kUnavailable.
class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Appends `entry` (its seq, prev_hash and hash are ignored and assigned) and returns it as
  // stored. kInvalidArgument when action is empty.
  virtual Result<AuditEntry> Append(const AuditEntry& entry) = 0;
  // Entries matching `filter`, newest first. kInvalidArgument unless page >= 1 and
  // 1 <= per_page <= kMaxPerPage.
  virtual Result<AuditPage> List(const AuditFilter& filter, int page, int per_page) = 0;
  // Up to `limit` entries with seq > after_seq, oldest first, as stored (for export and verify).
  virtual Result<std::vector<AuditEntry>> Scan(std::int64_t after_seq, int limit) = 0;

  virtual std::string Describe() const = 0;

  static constexpr int kMaxPerPage = 500;
};

// Same URLs and errors as OpenStore; for SQLite the log is a table of the same file.
Result<std::unique_ptr<AuditStore>> OpenAuditStore(std::string_view url);

// The bytes hashed for `entry` (everything but hash, prev_hash excluded too: it is appended
// after): each field as <decimal length>:<bytes>; in a fixed order, so that no two entries encode
// alike.
std::string AuditCanonicalEncoding(const AuditEntry& entry);
// SHA-256 hex of AuditCanonicalEncoding(entry) + entry.prev_hash.
std::string AuditEntryHash(const AuditEntry& entry);
// The prev_hash of the first entry.
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct ChainCheck {
  bool ok = true;
  std::int64_t entries = 0;           // entries read
  std::int64_t first_broken_seq = 0;  // when !ok: the first entry that does not verify
  std::string problem;                // when !ok: what is wrong with it, in words
};
// Walks the whole log, oldest first: every seq follows the last, every prev_hash is the previous
// hash, every hash is recomputed. Errors only for a store that cannot be read.
Result<ChainCheck> VerifyAuditChain(AuditStore& audit);

}  // namespace pneumo::store
