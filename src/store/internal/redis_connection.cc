#include "store/internal/redis_connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cctype>

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

void RedisConnection::Drop() {
  context_.reset();
  watching_ = false;  // the server forgets both with the connection
  in_multi_ = false;
}

std::string RedisConnection::Describe() const {
  return "redis://" + address_ + "/" + std::to_string(options_.db);
}

Result<void> RedisConnection::Connect() {
  if (context_ && context_->err == 0) return {};
  Drop();
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
  // AUTH, SELECT and PING: PING catches a server that wants a password we were not given.
  for (const Args& args : setup) {
    const std::string operation = args[0] == "SELECT" ? "SELECT " + args[1] : args[0];
    if (auto done = Command(args, operation); !done) {
      Drop();
      return std::unexpected(done.error());
    }
  }
  return {};
}

Error RedisConnection::ReplyError(const redisReply* reply, std::string_view operation) const {
  return ErrorFromReply(reply, address_, operation);
}

std::unexpected<Error> RedisConnection::Lost(std::string_view operation) {
  const std::string why = context_->errstr;
  // Lost at the first command of the attempt: nothing reached the server, so Run may retry.
  lost_on_first_command_ = commands_sent_ == 1;
  Drop();
  return Fail(ErrorCode::kUnavailable,
              "redis at " + address_ + ": " + std::string(operation) + " failed: " + why);
}

void RedisConnection::Track(const Args& args, const redisReply* reply) {
  if (args.empty()) return;
  std::string name = args[0];
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const bool ok = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
  // EXEC and DISCARD answered without an error (a nil EXEC included) end the MULTI and every
  // WATCH. An EXEC that errs may not have (EXEC without MULTI leaves the WATCH), so it ends
  // nothing.
  if (name == "EXEC" || name == "DISCARD") {
    if (ok) watching_ = in_multi_ = false;
  } else if (in_multi_) {
    // Queued: runs at EXEC, which ends everything anyway.
  } else if (name == "WATCH") {
    watching_ = true;
  } else if (name == "MULTI") {
    in_multi_ = true;
  } else if (name == "UNWATCH" && ok) {
    watching_ = false;
  }
}

namespace {

// hiredis wants parallel arrays of pointers and lengths; both point into `args`.
struct Argv {
  explicit Argv(const RedisConnection::Args& args) {
    pointers.reserve(args.size());
    lengths.reserve(args.size());
    for (const std::string& arg : args) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
  }
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
};

}  // namespace

Result<RedisConnection::Reply> RedisConnection::Command(const Args& args,
                                                        std::string_view operation) {
  ++commands_sent_;
  Argv argv(args);
  void* raw = redisCommandArgv(context_.get(), static_cast<int>(args.size()), argv.pointers.data(),
                               argv.lengths.data());
  if (raw == nullptr) return Lost(operation);
  Reply reply(static_cast<redisReply*>(raw));
  Track(args, reply.get());
  if (reply->type == REDIS_REPLY_ERROR) {
    return std::unexpected(ErrorFromReply(reply.get(), address_, operation));
  }
  return reply;
}

Result<std::vector<RedisConnection::Reply>> RedisConnection::Pipeline(
    const std::vector<Args>& commands, std::string_view operation) {
  ++commands_sent_;  // one round trip: lost here at the start, nothing was run
  for (const Args& args : commands) {
    Argv argv(args);
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(args.size()), argv.pointers.data(),
                               argv.lengths.data()) != REDIS_OK) {
      return Lost(operation);
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (const Args& args : commands) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) return Lost(operation);
    replies.emplace_back(static_cast<redisReply*>(raw));
    Track(args, replies.back().get());
  }
  for (const Reply& reply : replies) {
    if (reply->type == REDIS_REPLY_ERROR) {
      return std::unexpected(ErrorFromReply(reply.get(), address_, operation));
    }
  }
  return replies;
}

}  // namespace pneumo::store::internal
