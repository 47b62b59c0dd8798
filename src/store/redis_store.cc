#include "store/redis_store.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "store/internal/redis_connection.h"

namespace pneumo::store {
namespace {

using internal::ReplyText;
using Args = internal::RedisConnection::Args;

constexpr std::string_view kRecordPrefix = "pneumo:prediction:";
constexpr char kIndexKey[] = "pneumo:predictions";
// One sorted set per accession number, like kIndexKey but holding only that number's records.
constexpr std::string_view kAccessionPrefix = "pneumo:predictions:accession:";
// A list of JSON objects, newest at the head, trimmed to kReceivedKept entries.
constexpr char kReceivedKey[] = "pneumo:received";
constexpr int kReceivedKept = 10000;

// Hash fields, in the order List reads them (everything but the preview), DICOM fields last.
const std::vector<std::string>& ListFields() {
  static const std::vector<std::string> fields = [] {
    std::vector<std::string> f = {"id",        "filename",     "label",         "probability",
                                  "threshold", "review",       "model_name",    "model_version",
                                  "sha256",    "created_at",   "created_at_ms", "decode_ms",
                                  "queue_ms",  "inference_ms", "details_json",  "owner"};
    for (const auto& [name, member] : kDicomFields) f.emplace_back(name);
    return f;
  }();
  return fields;
}
constexpr char kPreviewField[] = "preview_jpeg";

std::string RecordKey(std::string_view id) { return std::string(kRecordPrefix) + std::string(id); }
// One sorted set per owner beside the global index, written in the same MULTI as the record.
// Records stored before owners existed have no "owner" field and are in no owner's index.
std::string OwnerIndexKey(std::string_view owner) {
  return "pneumo:predictions:owner:" + std::string(owner);
}
// And one per owner and accession number, for a doctor's view of one study.
std::string OwnerAccessionKey(std::string_view owner, std::string_view accession) {
  return OwnerIndexKey(owner) + ":accession:" + std::string(accession);
}
std::string AccessionKey(std::string_view accession) {
  return std::string(kAccessionPrefix) + std::string(accession);
}

std::string Number(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round-trip
  return std::string(buffer, end);
}

template <typename T>
bool ParseNumber(const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

Result<PredictionRecord> RecordFromFields(std::map<std::string, std::string> fields,
                                          std::string_view id) {
  PredictionRecord r;
  r.id = fields["id"];
  r.filename = fields["filename"];
  r.label = fields["label"];
  r.model_name = fields["model_name"];
  r.model_version = fields["model_version"];
  r.sha256 = fields["sha256"];
  r.created_at = fields["created_at"];
  r.review = fields["review"] == "1";
  r.details_json = fields["details_json"];
  r.owner = fields["owner"];  // absent in records from before owners: ""
  // Records written before DICOM support have none of these fields: they read as empty.
  for (const auto& [name, member] : kDicomFields) r.dicom.*member = fields[name];
  const auto& preview = fields[kPreviewField];
  r.preview_jpeg.assign(preview.begin(), preview.end());
  const bool numbers_ok = ParseNumber(fields["probability"], r.probability) &&
                          ParseNumber(fields["threshold"], r.threshold) &&
                          ParseNumber(fields["created_at_ms"], r.created_at_ms) &&
                          ParseNumber(fields["decode_ms"], r.decode_ms) &&
                          ParseNumber(fields["queue_ms"], r.queue_ms) &&
                          ParseNumber(fields["inference_ms"], r.inference_ms);
  if (!numbers_ok || r.id != id) {
    return Fail(ErrorCode::kInternal,
                "redis record " + RecordKey(id) + " is damaged (a field is missing or malformed)");
  }
  return r;
}

}  // namespace

RedisStore::RedisStore(Options options)
    : redis_(std::make_unique<internal::RedisConnection>(std::move(options))) {}

RedisStore::~RedisStore() = default;

Result<std::unique_ptr<RedisStore>> RedisStore::Open(Options options) {
  std::unique_ptr<RedisStore> store(new RedisStore(std::move(options)));
  std::lock_guard lock(store->mu_);
  if (auto connected = store->redis_->Connect(); !connected) {
    return std::unexpected(connected.error());
  }
  return store;
}

Result<bool> RedisAnswersWithoutPassword(const std::string& host, int port,
                                         std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  const timeval tv{.tv_sec = static_cast<time_t>(ms / 1000),
                   .tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000)};
  const std::unique_ptr<redisContext, void (*)(redisContext*)> context(
      redisConnectWithTimeout(host.c_str(), port, tv), redisFree);
  const std::string address = host + ":" + std::to_string(port);
  if (!context || context->err) {
    return Fail(ErrorCode::kUnavailable,
                "cannot connect to redis at " + address + ": " +
                    (context ? context->errstr : "out of memory allocating the connection"));
  }
  redisSetTimeout(context.get(), tv);
  const std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(redisCommand(context.get(), "PING")), freeReplyObject);
  if (!reply) {
    return Fail(ErrorCode::kUnavailable,
                "redis at " + address + " did not answer PING: " + context->errstr);
  }
  // -NOAUTH (requirepass, or an ACL default user without nopass) is the answer we want.
  return reply->type != REDIS_REPLY_ERROR;
}

Result<void> RedisStore::Put(const PredictionRecord& r) {
  if (r.id.empty()) return Fail(ErrorCode::kInvalidArgument, "prediction id must not be empty");
  std::lock_guard lock(mu_);
  const std::string key = RecordKey(r.id);
  const auto duplicate = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "a prediction with id '" + r.id + "' is already stored");
  };
  auto put = [&]() -> Result<void> {
    // WATCH + EXISTS + MULTI/EXEC: the record and its index entry appear together, and a record
    // written by another server between EXISTS and EXEC aborts ours instead of overwriting it.
    if (auto watched = redis_->Command({"WATCH", key}, "WATCH"); !watched) {
      return std::unexpected(watched.error());
    }
    auto exists = redis_->Command({"EXISTS", key}, "checking for a duplicate id");
    if (!exists) return std::unexpected(exists.error());
    if ((*exists)->integer != 0) {
      if (auto unwatched = redis_->Command({"UNWATCH"}, "UNWATCH"); !unwatched) {
        return std::unexpected(unwatched.error());
      }
      return duplicate();
    }
    if (auto multi = redis_->Command({"MULTI"}, "MULTI"); !multi)
      return std::unexpected(multi.error());
    Args hset = {"HSET",
                 key,
                 "id",
                 r.id,
                 "filename",
                 r.filename,
                 "label",
                 r.label,
                 "probability",
                 Number(r.probability),
                 "threshold",
                 Number(r.threshold),
                 "review",
                 r.review ? "1" : "0",
                 "model_name",
                 r.model_name,
                 "model_version",
                 r.model_version,
                 "sha256",
                 r.sha256,
                 "created_at",
                 r.created_at,
                 "created_at_ms",
                 std::to_string(r.created_at_ms),
                 "decode_ms",
                 Number(r.decode_ms),
                 "queue_ms",
                 Number(r.queue_ms),
                 "inference_ms",
                 Number(r.inference_ms),
                 "details_json",
                 r.details_json,
                 "owner",
                 r.owner,
                 kPreviewField,
                 std::string(r.preview_jpeg.begin(), r.preview_jpeg.end())};
    for (const auto& [name, member] : kDicomFields) {
      hset.emplace_back(name);
      hset.push_back(r.dicom.*member);
    }
    if (auto queued = redis_->Command(hset, "queueing HSET"); !queued)
      return std::unexpected(queued.error());
    if (!r.dicom.accession_number.empty()) {
      if (auto queued = redis_->Command({"ZADD", AccessionKey(r.dicom.accession_number),
                                         std::to_string(r.created_at_ms), r.id},
                                        "queueing ZADD");
          !queued) {
        return std::unexpected(queued.error());
      }
    }
    if (auto queued = redis_->Command({"ZADD", kIndexKey, std::to_string(r.created_at_ms), r.id},
                                      "queueing ZADD");
        !queued) {
      return std::unexpected(queued.error());
    }
    if (!r.owner.empty()) {
      if (auto queued = redis_->Command(
              {"ZADD", OwnerIndexKey(r.owner), std::to_string(r.created_at_ms), r.id},
              "queueing ZADD");
          !queued) {
        return std::unexpected(queued.error());
      }
      if (!r.dicom.accession_number.empty()) {
        if (auto queued =
                redis_->Command({"ZADD", OwnerAccessionKey(r.owner, r.dicom.accession_number),
                                 std::to_string(r.created_at_ms), r.id},
                                "queueing ZADD");
            !queued) {
          return std::unexpected(queued.error());
        }
      }
    }
    auto exec = redis_->Command({"EXEC"}, "storing the prediction");
    if (!exec) return std::unexpected(exec.error());
    if ((*exec)->type == REDIS_REPLY_NIL) return duplicate();  // the WATCHed key changed
    for (size_t i = 0; i < (*exec)->elements; ++i) {
      if ((*exec)->element[i]->type == REDIS_REPLY_ERROR) {
        return std::unexpected(redis_->ReplyError((*exec)->element[i], "storing the prediction"));
      }
    }
    return {};
  };
  // A failure after WATCH or MULTI leaves them open: Run drops the connection then, which clears
  // both on the server.
  return redis_->Run<void>(put);
}

Result<PredictionRecord> RedisStore::Get(std::string_view id) {
  std::lock_guard lock(mu_);
  return redis_->Run<PredictionRecord>([&]() -> Result<PredictionRecord> {
    auto reply = redis_->Command({"HGETALL", RecordKey(id)}, "reading a prediction");
    if (!reply) return std::unexpected(reply.error());
    if ((*reply)->elements == 0) {
      return Fail(ErrorCode::kNotFound, "no prediction with id '" + std::string(id) + "'");
    }
    std::map<std::string, std::string> fields;
    for (size_t i = 0; i + 1 < (*reply)->elements; i += 2) {
      fields.emplace(ReplyText((*reply)->element[i]), ReplyText((*reply)->element[i + 1]));
    }
    return RecordFromFields(std::move(fields), id);
  });
}

Result<std::vector<std::uint8_t>> RedisStore::GetPreview(std::string_view id) {
  std::lock_guard lock(mu_);
  return redis_->Run<std::vector<std::uint8_t>>([&]() -> Result<std::vector<std::uint8_t>> {
    auto reply = redis_->Command({"HGET", RecordKey(id), kPreviewField}, "reading a preview");
    if (!reply) return std::unexpected(reply.error());
    if ((*reply)->type == REDIS_REPLY_NIL) {
      return Fail(ErrorCode::kNotFound, "no prediction with id '" + std::string(id) + "'");
    }
    const std::string_view bytes = ReplyText(reply->get());
    return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
  });
}

Result<void> RedisStore::Delete(std::string_view id) {
  std::lock_guard lock(mu_);
  const std::string key = RecordKey(id);
  auto remove = [&]() -> Result<void> {
    // The indexes a record is in follow from its owner and accession number: read them, then
    // drop the record and every index entry in one MULTI, unless the record changed meanwhile.
    if (auto watched = redis_->Command({"WATCH", key}, "WATCH"); !watched) {
      return std::unexpected(watched.error());
    }
    auto fields = redis_->Command({"HMGET", key, "id", "owner", "dicom_accession_number"},
                                  "reading a prediction to delete");
    if (!fields) return std::unexpected(fields.error());
    if ((*fields)->elements < 3 || (*fields)->element[0]->type == REDIS_REPLY_NIL) {
      if (auto unwatched = redis_->Command({"UNWATCH"}, "UNWATCH"); !unwatched) {
        return std::unexpected(unwatched.error());
      }
      return Fail(ErrorCode::kNotFound, "no prediction with id '" + std::string(id) + "'");
    }
    const std::string owner(ReplyText((*fields)->element[1]));
    const std::string accession(ReplyText((*fields)->element[2]));
    std::vector<Args> commands = {{"DEL", key}, {"ZREM", kIndexKey, std::string(id)}};
    if (!owner.empty()) commands.push_back({"ZREM", OwnerIndexKey(owner), std::string(id)});
    if (!accession.empty()) {
      commands.push_back({"ZREM", AccessionKey(accession), std::string(id)});
      if (!owner.empty())
        commands.push_back({"ZREM", OwnerAccessionKey(owner, accession), std::string(id)});
    }
    if (auto multi = redis_->Command({"MULTI"}, "MULTI"); !multi)
      return std::unexpected(multi.error());
    for (const Args& command : commands) {
      if (auto queued = redis_->Command(command, "queueing a deletion"); !queued) {
        return std::unexpected(queued.error());
      }
    }
    auto exec = redis_->Command({"EXEC"}, "deleting the prediction");
    if (!exec) return std::unexpected(exec.error());
    if ((*exec)->type == REDIS_REPLY_NIL) {
      return Fail(ErrorCode::kUnavailable, "the prediction changed while it was being deleted");
    }
    return {};
  };
  return redis_->Run<void>(remove);  // as in Put, Run clears a WATCH or MULTI left open
}

Result<PredictionPage> RedisStore::List(const ListQuery& query) {
  const int page = query.page, per_page = query.per_page;
  const bool by_owner = !query.owner.empty(), by_accession = !query.accession_number.empty();
  const std::string index = by_owner && by_accession
                                ? OwnerAccessionKey(query.owner, query.accession_number)
                            : by_owner     ? OwnerIndexKey(query.owner)
                            : by_accession ? AccessionKey(query.accession_number)
                                           : std::string(kIndexKey);
  if (auto checked = CheckPaging(page, per_page); !checked) return std::unexpected(checked.error());
  std::lock_guard lock(mu_);
  return redis_->Run<PredictionPage>([&]() -> Result<PredictionPage> {
    PredictionPage result;
    result.page = page;
    result.per_page = per_page;
    auto count = redis_->Command({"ZCARD", index}, "counting predictions");
    if (!count) return std::unexpected(count.error());
    result.total = (*count)->integer;
    const std::int64_t start = static_cast<std::int64_t>(page - 1) * per_page;
    if (start >= result.total) return result;
    // Equal scores come back in reverse lexicographic order of id, matching the SQLite order.
    auto ids = redis_->Command(
        {"ZREVRANGE", index, std::to_string(start), std::to_string(start + per_page - 1)},
        "listing predictions");
    if (!ids) return std::unexpected(ids.error());
    std::vector<Args> reads;
    for (size_t i = 0; i < (*ids)->elements; ++i) {
      Args hmget = {"HMGET", RecordKey(ReplyText((*ids)->element[i]))};
      hmget.insert(hmget.end(), ListFields().begin(), ListFields().end());
      reads.push_back(std::move(hmget));
    }
    auto replies = redis_->Pipeline(reads, "reading listed predictions");
    if (!replies) return std::unexpected(replies.error());
    for (size_t i = 0; i < replies->size(); ++i) {
      const redisReply* reply = (*replies)[i].get();
      std::map<std::string, std::string> fields;
      for (size_t f = 0; f < reply->elements && f < ListFields().size(); ++f) {
        if (reply->element[f]->type != REDIS_REPLY_NIL) {
          fields.emplace(ListFields()[f], ReplyText(reply->element[f]));
        }
      }
      if (fields.empty()) continue;  // indexed but not yet visible; cannot happen with MULTI/EXEC
      auto record = RecordFromFields(std::move(fields), ReplyText((*ids)->element[i]));
      if (!record) return std::unexpected(record.error());
      result.items.push_back(std::move(*record));
    }
    return result;
  });
}

Result<void> RedisStore::LogReceived(const ReceivedInstance& r) {
  if (r.sop_instance_uid.empty())
    return Fail(ErrorCode::kInvalidArgument, "a received instance needs its SOP Instance UID");
  const std::string entry = nlohmann::json{
      {"received_at_ms", r.received_at_ms},
      {"received_at", r.received_at},
      {"source", r.source},
      {"study_uid", r.study_instance_uid},
      {"series_uid", r.series_instance_uid},
      {"sop_instance_uid", r.sop_instance_uid},
      {"sop_class_uid", r.sop_class_uid},
      {"accession_number", r.accession_number},
      {"modality", r.modality},
      {"outcome", r.outcome},
      {"reason", r.reason},
      {"prediction_id",
       r.prediction_id}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(mu_);
  return redis_->Run<void>([&]() -> Result<void> {
    // LPUSH is the write; LTRIM only bounds the log, so a failed trim loses nothing.
    auto replies =
        redis_->Pipeline({{"LPUSH", kReceivedKey, entry},
                          {"LTRIM", kReceivedKey, "0", std::to_string(kReceivedKept - 1)}},
                         "logging a received instance");
    if (!replies) return std::unexpected(replies.error());
    return {};
  });
}

Result<std::vector<ReceivedInstance>> RedisStore::ListReceived(int limit) {
  if (auto checked = CheckPaging(1, limit); !checked) return std::unexpected(checked.error());
  std::lock_guard lock(mu_);
  return redis_->Run<std::vector<ReceivedInstance>>([&]() -> Result<std::vector<ReceivedInstance>> {
    auto reply = redis_->Command({"LRANGE", kReceivedKey, "0", std::to_string(limit - 1)},
                                 "listing received instances");
    if (!reply) return std::unexpected(reply.error());
    std::vector<ReceivedInstance> log;
    for (size_t i = 0; i < (*reply)->elements; ++i) {
      const auto j = nlohmann::json::parse(ReplyText((*reply)->element[i]), nullptr,
                                           /*allow_exceptions=*/false);
      if (!j.is_object()) {
        return Fail(ErrorCode::kInternal,
                    std::string("redis list ") + kReceivedKey + " holds an entry that is not JSON");
      }
      ReceivedInstance r;
      r.received_at_ms = j.value("received_at_ms", std::int64_t{0});
      r.received_at = j.value("received_at", "");
      r.source = j.value("source", "");
      r.study_instance_uid = j.value("study_uid", "");
      r.series_instance_uid = j.value("series_uid", "");
      r.sop_instance_uid = j.value("sop_instance_uid", "");
      r.sop_class_uid = j.value("sop_class_uid", "");
      r.accession_number = j.value("accession_number", "");
      r.modality = j.value("modality", "");
      r.outcome = j.value("outcome", "");
      r.reason = j.value("reason", "");
      r.prediction_id = j.value("prediction_id", "");
      log.push_back(std::move(r));
    }
    return log;
  });
}

Result<void> RedisStore::Ping() {
  std::lock_guard lock(mu_);
  return redis_->Run<void>([&]() -> Result<void> {
    auto reply = redis_->Command({"PING"}, "PING");
    if (!reply) return std::unexpected(reply.error());
    return {};
  });
}

std::string RedisStore::Describe() const { return redis_->Describe(); }

}  // namespace pneumo::store
