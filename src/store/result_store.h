// Where every prediction is kept: SQLite (embedded default) or Redis (history shared by servers).
//
//   Result<std::unique_ptr<ResultStore>> store = OpenStore("sqlite:/var/lib/pneumo/results.db");
//   if (!store) return std::unexpected(store.error());
//   if (auto put = (*store)->Put(record); !put) Log(put.error().ToString());
//   Result<PredictionPage> page = (*store)->List(/*page=*/1, /*per_page=*/20);
//   auto study = (*store)->List(ListQuery{.page = 1, .per_page = 20, .accession_number = "A12"});
//
// Both implementations pass the same contract test suite (tests/store/store_contract.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/prediction_record.h"

namespace pneumo::store {

// Thread-safe: every method may be called from any thread at any time; implementations serialise
// access to their connection internally. A backend outage yields ErrorCode::kUnavailable (never a
// crash), and the store recovers by itself when the backend comes back.
class ResultStore {
 public:
  virtual ~ResultStore() = default;

  // Stores `record` durably: once this returns success the record survives a crash or restart.
  // kInvalidArgument when the id is empty or already stored (records are never overwritten).
  virtual Result<void> Put(const PredictionRecord& record) = 0;

  // The full record, preview included. kNotFound when no record has this id.
  virtual Result<PredictionRecord> Get(std::string_view id) = 0;

  // Just the preview image bytes (possibly empty). kNotFound when no record has this id.
  virtual Result<std::vector<std::uint8_t>> GetPreview(std::string_view id) = 0;

  // Page `page` (1-based) of all records, newest first by created_at_ms, ties by id descending.
  // Items carry no preview. A page past the end is empty (total still set).
  // kInvalidArgument unless page >= 1 and 1 <= per_page <= kMaxPerPage.
  // With query.accession_number and/or query.owner set, only the records that match both (total
  // counts just those). Same errors as above.
  virtual Result<PredictionPage> List(const ListQuery& query) = 0;
  Result<PredictionPage> List(int page, int per_page) {
    return List(ListQuery{.page = page, .per_page = per_page});
  }

  // Removes the record, its preview and its index entries for good (the audit trail, kept apart,
  // records who did it). kNotFound when no record has this id.
  virtual Result<void> Delete(std::string_view id) = 0;

  // Appends to the log of received DICOM instances (durable like Put). kInvalidArgument when
  // sop_instance_uid is empty. The same instance received twice is logged twice.
  virtual Result<void> LogReceived(const ReceivedInstance& instance) = 0;
  // The newest `limit` (1..kMaxPerPage) entries of that log, newest first.
  virtual Result<std::vector<ReceivedInstance>> ListReceived(int limit) = 0;

  // List, restricted to records whose owner is `owner` (total counts only those).
  // kInvalidArgument for bad paging or an empty owner.
  Result<PredictionPage> ListOwnedBy(std::string_view owner, int page, int per_page) {
    if (owner.empty()) return Fail(ErrorCode::kInvalidArgument, "owner must not be empty");
    return List(ListQuery{.page = page, .per_page = per_page, .owner = std::string(owner)});
  }

  // Succeeds when the backend answers; for health checks.
  virtual Result<void> Ping() = 0;

  // The store's URL without any password, for logs and /health.
  virtual std::string Describe() const = 0;

  static constexpr int kMaxPerPage = 100;
};

// A parsed store URL:
//   sqlite:PATH                                  (sqlite:///abs/path also accepted)
//   redis://[:password@]host[:port][/db]         (port defaults to 6379, db to 0)
struct StoreUrl {
  enum class Kind { kSqlite, kRedis };
  Kind kind = Kind::kSqlite;
  std::string path;      // sqlite only
  std::string host;      // redis only
  int port = 6379;       // redis only
  std::string password;  // redis only; empty means no AUTH
  int db = 0;            // redis only; SELECTed on connect
};

// Pure parsing, no I/O. kInvalidArgument with a message naming what is wrong.
Result<StoreUrl> ParseStoreUrl(std::string_view url);

// Parses `url` and opens (and for Redis, connects to) the store it names. Errors: those of
// ParseStoreUrl; kIoError when the SQLite file cannot be created; kUnavailable when Redis cannot
// be reached; kInvalidArgument when Redis rejects the password.
Result<std::unique_ptr<ResultStore>> OpenStore(std::string_view url);

// For implementations: checks List's paging arguments.
Result<void> CheckPaging(int page, int per_page);

}  // namespace pneumo::store
