// Request ids: one per HTTP request, echoed in X-Request-Id and carried in every log line about it.
//
//   std::string id = RequestIdFor(req.get_header_value("X-Request-Id"));
//
// A client's (or nginx's $request_id) id is kept when it is sane, so one id follows a request
// through the proxy and the server; anything else is replaced, so that a client cannot write into
// the logs. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pneumo::http {

// 1 to 128 characters of [A-Za-z0-9._:-].
bool IsSaneRequestId(std::string_view id);

// `offered` when sane, else a new random id (32 lowercase hex digits, like nginx's $request_id).
std::string RequestIdFor(std::string_view offered);

}  // namespace pneumo::http
