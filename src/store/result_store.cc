#include "store/result_store.h"

#include <charconv>
#include <string>

#include "store/redis_store.h"
#include "store/sqlite_store.h"

namespace pneumo::store {
namespace {

constexpr std::string_view kUsage =
    "; expected sqlite:PATH or redis://[:password@]host[:port][/db]";

bool ParseInt(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

Result<StoreUrl> ParseRedis(std::string_view rest, std::string_view url) {
  StoreUrl parsed;
  parsed.kind = StoreUrl::Kind::kRedis;
  // Strip "/db" first: the password may contain '/' only before '@', so split at the last '@'.
  std::string_view authority = rest;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    authority = rest.substr(at + 1);
    if (userinfo.empty() || userinfo.front() != ':') {
      return Fail(ErrorCode::kInvalidArgument,
                  "redis store URL: user names are not supported, write the password as "
                  "redis://:PASSWORD@host:port/db");
    }
    parsed.password = std::string(userinfo.substr(1));
    if (parsed.password.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "redis store URL has an empty password after ':'");
    }
  }
  if (const auto slash = authority.find('/'); slash != std::string_view::npos) {
    const std::string_view db = authority.substr(slash + 1);
    authority = authority.substr(0, slash);
    if (!db.empty() && (!ParseInt(db, parsed.db) || parsed.db < 0)) {
      return Fail(ErrorCode::kInvalidArgument,
                  "redis store URL: database must be a non-negative integer, got '" +
                      std::string(db) + "'");
    }
  }
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
    if (!ParseInt(port, parsed.port) || parsed.port < 1 || parsed.port > 65535) {
      return Fail(ErrorCode::kInvalidArgument,
                  "redis store URL: port must be 1..65535, got '" + std::string(port) + "'");
    }
  }
  if (authority.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "redis store URL has no host: '" +
                                                 std::string(url.substr(0, 8)) + "...'" +
                                                 std::string(kUsage));
  }
  parsed.host = std::string(authority);
  return parsed;
}

}  // namespace

Result<StoreUrl> ParseStoreUrl(std::string_view url) {
  if (url.starts_with("sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.starts_with("//")) path.remove_prefix(2);
    if (path.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "sqlite store URL has no file path" + std::string(kUsage));
    }
    StoreUrl parsed;
    parsed.kind = StoreUrl::Kind::kSqlite;
    parsed.path = std::string(path);
    return parsed;
  }
  if (url.starts_with("redis://")) return ParseRedis(url.substr(8), url);
  if (url.empty())
    return Fail(ErrorCode::kInvalidArgument, "empty store URL" + std::string(kUsage));
  // Do not echo the URL: it may hold a password.
  const auto colon = url.find(':');
  return Fail(ErrorCode::kInvalidArgument,
              "unknown store URL scheme '" +
                  std::string(colon == std::string_view::npos ? std::string_view("")
                                                              : url.substr(0, colon)) +
                  "'" + std::string(kUsage));
}

Result<std::unique_ptr<ResultStore>> OpenStore(std::string_view url) {
  Result<StoreUrl> parsed = ParseStoreUrl(url);
  if (!parsed) return std::unexpected(parsed.error());
  if (parsed->kind == StoreUrl::Kind::kSqlite) {
    auto store = SqliteStore::Open(parsed->path);
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<ResultStore>(std::move(*store));
  }
  auto store = RedisStore::Open(RedisStore::Options{
      .host = parsed->host, .port = parsed->port, .password = parsed->password, .db = parsed->db});
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<ResultStore>(std::move(*store));
}

Result<void> CheckPaging(int page, int per_page) {
  if (page < 1) {
    return Fail(ErrorCode::kInvalidArgument, "page must be >= 1, got " + std::to_string(page));
  }
  if (per_page < 1 || per_page > ResultStore::kMaxPerPage) {
    return Fail(ErrorCode::kInvalidArgument, "per_page must be 1.." +
                                                 std::to_string(ResultStore::kMaxPerPage) +
                                                 ", got " + std::to_string(per_page));
  }
  return {};
}

}  // namespace pneumo::store
