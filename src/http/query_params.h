// The query parameters pneumo reads itself (httplib splits the query string): the strict integers
// of /api/v1/predictions?page=&per_page= and the original API's forgiving ?page=. Apart from
// http_server.cc so that they are unit-tested and fuzzed (fuzz/query_params_fuzzer.cc).
//
//   std::optional<int> page = ParseStrictInt(req.get_param_value("page"));   // nullopt: 400
//   int compat_page = ParseCompatPage(req.get_param_value("page"));          // never fails
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace pneumo::http {

// Decimal digits with an optional leading '-', nothing else (no spaces, no '+'), within an int.
std::optional<int> ParseStrictInt(std::string_view text);

// The original's request.args.get("page", 1, type=int): Python's int() of the text (surrounding
// whitespace and one sign allowed), 1 when that fails; beyond an int, clamped to INT_MIN/INT_MAX,
// which keeps it out of range as it was.
int ParseCompatPage(std::string_view text);

}  // namespace pneumo::http
