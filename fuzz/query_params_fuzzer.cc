// Arbitrary text as a query string, split by httplib as the server does (detail::parse_query_text),
// then every parameter pneumo reads itself: page and per_page (http::ParseStrictInt), the original
// API's page (http::ParseCompatPage), the audit trail's from and to (auth::ParseIsoTime); and the
// text as an X-Request-Id (http::RequestIdFor). Checks: the integer parsers agree with a plain
// reference; a time that parses is written back (auth::IsoTimeMs) as text that parses to the same
// instant; the id that is used is always sane, and a sane offered id is kept as it is.
#include <httplib.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "auth/audit_json.h"
#include "fuzz_check.h"
#include "http/query_params.h"
#include "http/request_id.h"

namespace {

// ^-?[0-9]+$ within an int, digit by digit in 64 bits.
std::optional<int> ReferenceStrictInt(std::string_view text) {
  const bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > std::int64_t{std::numeric_limits<int>::max()} + 1) return std::nullopt;
  }
  if (negative) value = -value;
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
    return std::nullopt;
  return static_cast<int>(value);
}

void CheckInteger(const std::string& text) {
  FUZZ_CHECK(pneumo::http::ParseStrictInt(text) == ReferenceStrictInt(text),
             "ParseStrictInt disagrees with the reference");
  const int compat = pneumo::http::ParseCompatPage(text);
  if (auto strict = ReferenceStrictInt(text)) {
    FUZZ_CHECK(compat == *strict, "ParseCompatPage differs on a plain integer");
  }
  if (compat != 1) {
    FUZZ_CHECK(text.find_first_of("0123456789") != std::string::npos,
               "ParseCompatPage read a number from text without digits");
  }
}

void CheckTime(const std::string& text) {
  auto ms = pneumo::auth::ParseIsoTime(text);
  if (!ms) return;
  const std::string written = pneumo::auth::IsoTimeMs(*ms);
  auto again = pneumo::auth::ParseIsoTime(written);
  FUZZ_CHECK(again.has_value(), "IsoTimeMs wrote a time that ParseIsoTime refuses");
  FUZZ_CHECK(*again == *ms, "a time does not survive IsoTimeMs and ParseIsoTime");
  if (text.size() == 24) FUZZ_CHECK(written == text, "a canonical time is written differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string query(reinterpret_cast<const char*>(data), size);
  httplib::Params params;
  httplib::detail::parse_query_text(query, params);
  for (const auto& [name, value] : params) {
    CheckInteger(value);
    CheckTime(value);
  }
  CheckInteger(query);
  CheckTime(query);
  const std::string id = pneumo::http::RequestIdFor(query);
  FUZZ_CHECK(pneumo::http::IsSaneRequestId(id), "RequestIdFor returned an id that is not sane");
  if (pneumo::http::IsSaneRequestId(query)) FUZZ_CHECK(id == query, "a sane id was replaced");
  return 0;
}
