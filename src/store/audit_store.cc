#include "store/audit_store.h"

#include <charconv>

#include "core/sha256.h"
#include "store/internal/backends.h"
#include "store/result_store.h"

namespace pneumo::store {
namespace {

void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

// Reads one <length>:<bytes> field from the front of `text`.
bool TakeField(std::string_view& text, std::string& out) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 12) return false;
  const std::string digits(text.substr(0, colon));  // at most 12 characters
  std::size_t length = 0;
  auto [end, ec] = std::from_chars(digits.c_str(), digits.c_str() + digits.size(), length);
  if (ec != std::errc() || end != digits.c_str() + digits.size() ||
      length > text.size() - colon - 1) {
    return false;
  }
  out.assign(text.substr(colon + 1, length));
  text.remove_prefix(colon + 1 + length);
  return true;
}

bool ToInt(const std::string& text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

bool AuditFilter::Matches(const AuditEntry& e) const {
  if (!user.empty() && e.user != user) return false;
  if (!action.empty()) {
    if (action.ends_with('.') ? !e.action.starts_with(action) : e.action != action) return false;
  }
  if (since_ms != 0 && e.time_ms < since_ms) return false;
  if (until_ms != 0 && e.time_ms >= until_ms) return false;
  return true;
}

std::string AuditCanonicalEncoding(const AuditEntry& e) {
  std::string out = "pneumo-audit-v1;";  // versioned, so a future layout cannot collide
  AppendField(out, std::to_string(e.seq));
  AppendField(out, std::to_string(e.time_ms));
  for (const std::string* field :
       {&e.user, &e.role, &e.action, &e.target_id, &e.client_address, &e.request_id, &e.outcome}) {
    AppendField(out, *field);
  }
  return out;
}

std::string AuditEntryHash(const AuditEntry& entry) {
  Sha256 sha;
  sha.Update(AuditCanonicalEncoding(entry));
  sha.Update(entry.prev_hash);
  return sha.FinishHex();
}

Result<ChainCheck> VerifyAuditChain(AuditStore& audit) {
  ChainCheck check;
  std::string prev_hash(kAuditGenesisHash);
  std::int64_t last_seq = 0;
  constexpr int kChunk = 1000;
  while (true) {
    auto chunk = audit.Scan(last_seq, kChunk);
    if (!chunk) return std::unexpected(chunk.error());
    for (const AuditEntry& e : *chunk) {
      ++check.entries;
      auto broken = [&](std::int64_t seq, std::string problem) {
        check.ok = false;
        check.first_broken_seq = seq;
        check.problem = std::move(problem);
        return check;
      };
      if (e.seq != last_seq + 1) {
        return broken(last_seq + 1, "entry " + std::to_string(last_seq + 1) +
                                        " is missing (the next one is numbered " +
                                        std::to_string(e.seq) + ")");
      }
      if (e.prev_hash != prev_hash) {
        return broken(e.seq, "entry " + std::to_string(e.seq) +
                                 " does not chain on to the one before it (prev_hash differs)");
      }
      if (AuditEntryHash(e) != e.hash) {
        return broken(e.seq, "entry " + std::to_string(e.seq) +
                                 " was altered: its hash does not match its contents");
      }
      prev_hash = e.hash;
      last_seq = e.seq;
    }
    if (chunk->size() < static_cast<std::size_t>(kChunk)) return check;
  }
}

Result<std::unique_ptr<AuditStore>> OpenAuditStore(std::string_view url) {
  auto parsed = ParseStoreUrl(url);
  if (!parsed) return std::unexpected(parsed.error());
  if (parsed->kind == StoreUrl::Kind::kSqlite) return internal::OpenSqliteAuditStore(parsed->path);
  return internal::OpenRedisAuditStore(
      {.host = parsed->host, .port = parsed->port, .password = parsed->password, .db = parsed->db});
}

namespace internal {

Result<void> CheckAuditPaging(int page, int per_page) {
  if (page < 1) {
    return Fail(ErrorCode::kInvalidArgument, "page must be >= 1, got " + std::to_string(page));
  }
  if (per_page < 1 || per_page > AuditStore::kMaxPerPage) {
    return Fail(ErrorCode::kInvalidArgument, "per_page must be 1.." +
                                                 std::to_string(AuditStore::kMaxPerPage) +
                                                 ", got " + std::to_string(per_page));
  }
  return {};
}

std::string EncodeAuditRecord(const AuditEntry& e) {
  std::string out = AuditCanonicalEncoding(e);
  AppendField(out, e.prev_hash);
  AppendField(out, e.hash);
  return out;
}

AuditEntry DecodeAuditRecord(std::string_view text, std::int64_t position) {
  AuditEntry e;
  std::string seq, time;
  constexpr std::string_view kPrefix = "pneumo-audit-v1;";
  const bool ok = text.starts_with(kPrefix) && (text.remove_prefix(kPrefix.size()), true) &&
                  TakeField(text, seq) && TakeField(text, time) && TakeField(text, e.user) &&
                  TakeField(text, e.role) && TakeField(text, e.action) &&
                  TakeField(text, e.target_id) && TakeField(text, e.client_address) &&
                  TakeField(text, e.request_id) && TakeField(text, e.outcome) &&
                  TakeField(text, e.prev_hash) && TakeField(text, e.hash) && text.empty() &&
                  ToInt(seq, e.seq) && ToInt(time, e.time_ms);
  if (!ok) {
    AuditEntry damaged;
    damaged.seq = position;
    damaged.action = "(undecodable)";
    damaged.hash = "undecodable";
    return damaged;
  }
  return e;
}

}  // namespace internal
}  // namespace pneumo::store
