#include "store/internal/redis_connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

namespace pneumo::store::internal {
namespace {

Error ErrorFromReply(const redisReply* reply, const std::string& address,
                     std::string_view operation) {
  const std::string_view text = ReplyText(reply);
  ErrorCode code = ErrorCode::kInternal;
  for (std::string_view transient :
       {"LOADING", "READONLY", "BUSY", "MASTERDOWN", "TRYAGAIN", "OOM", "CLUSTERDOWN"}) {
    if (text.starts_with(transient)) code = ErrorCode::kUnavailable;
  }
  std::string hint;
  if (text.starts_with("NOAUTH")) {
    code = ErrorCode::kInvalidArgument;
    hint = " (the server requires a password: give it as redis://:PASSWORD@host:port/db)";
  } else if (text.starts_with("WRONGPASS") || text.find("password") != std::string_view::npos) {
    code = ErrorCode::kInvalidArgument;
    hint = " (check the password in the store URL)";
  }
  return Error{code, "redis at " + address + ": " + std::string(operation) +
                         " failed: " + std::string(text) + hint};
}

}  // namespace

std::string_view ReplyText(const redisReply* reply) {
  return reply && reply->str ? std::string_view(reply->str, reply->len) : std::string_view();
}
bool ReplyIsNil(const redisReply* reply) { return !reply || reply->type == REDIS_REPLY_NIL; }
std::size_t ReplyElements(const redisReply* reply) {
  return reply && reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
}
const redisReply* ReplyElement(const redisReply* reply, std::size_t i) { return reply->element[i]; }
long long ReplyInteger(const redisReply* reply) { return reply ? reply->integer : 0; }

void RedisConnection::ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }
void RedisConnection::ContextDeleter::operator()(redisContext* context) const {
  redisFree(context);
}

RedisConnection::RedisConnection(RedisStore::Options options)
    : options_(std::move(options)), address_(options_.host + ":" + std::to_string(options_.port)) {}

RedisConnection::~RedisConnection() = default;

void RedisConnection::Drop() { context_.reset(); }

std::string RedisConnection::Describe() const {
  return "redis://" + address_ + "/" + std::to_string(options_.db);
}

Result<void> RedisConnection::Connect() {
  if (context_ && context_->err == 0) return {};
  context_.reset();
  const auto ms = options_.timeout.count();
  const timeval timeout{.tv_sec = static_cast<time_t>(ms / 1000),
                        .tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000)};
  std::unique_ptr<redisContext, ContextDeleter> context(
      redisConnectWithTimeout(options_.host.c_str(), options_.port, timeout));
  if (!context) {
    return Fail(ErrorCode::kUnavailable, "cannot connect to redis at " + address_ +
                                             ": out of memory allocating the connection");
  }
  if (context->err) {
    return Fail(ErrorCode::kUnavailable,
                "cannot connect to redis at " + address_ + ": " + context->errstr);
  }
  redisSetTimeout(context.get(), timeout);
  redisEnableKeepAlive(context.get());
  context_ = std::move(context);
  std::vector<Args> setup;
  if (!options_.password.empty()) setup.push_back({"AUTH", options_.password});
  setup.push_back({"SELECT", std::to_string(options_.db)});
  setup.push_back({"PING"});
  for (const Args& args : setup) {
    if (auto done = Command(args, args[0]); !done) {
      context_.reset();
      return std::unexpected(done.error());
    }
  }
  return {};
}

Result<RedisConnection::Reply> RedisConnection::Command(const Args& args,
                                                        std::string_view operation) {
  ++commands_sent_;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* raw =
      redisCommandArgv(context_.get(), static_cast<int>(args.size()), argv.data(), lengths.data());
  if (raw == nullptr) {
    const std::string why = context_->errstr;
    lost_on_first_command_ = commands_sent_ == 1;
    context_.reset();
    return Fail(ErrorCode::kUnavailable,
                "redis at " + address_ + ": " + std::string(operation) + " failed: " + why);
  }
  Reply reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) {
    return std::unexpected(ErrorFromReply(reply.get(), address_, operation));
  }
  return reply;
}

}  // namespace pneumo::store::internal
