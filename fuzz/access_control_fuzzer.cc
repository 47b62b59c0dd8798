// The CIDR lists of --metrics-networks and --legacy-clients (http::NetworkList::Parse), a client
// address against them (Contains, with the text httplib would give as remote_addr), and the
// credentials pneumo picks out of request headers (CookieValue, BearerToken). Checks: a list that
// parses is written (ToString) as text that parses to the same list; every network contains its
// own address; a cookie value or a bearer token is a piece of the header it came from, and a
// cookie value holds no ';'.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/access_control.h"

namespace {

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using pneumo::http::NetworkList;
  FuzzedDataProvider input(data, size);
  const std::string list_text = input.ConsumeRandomLengthString(256);
  const std::string address = input.ConsumeRandomLengthString(64);
  const std::string header = input.ConsumeRemainingBytesAsString();

  if (auto list = NetworkList::Parse(list_text)) {
    const std::string text = list->ToString();
    auto again = NetworkList::Parse(text);
    FUZZ_CHECK(again.has_value(), "a list's ToString does not parse");
    FUZZ_CHECK(again->ToString() == text, "a list's ToString does not parse to the same list");
    FUZZ_CHECK(list->empty() == text.empty(), "an empty list printed as text, or the reverse");
    std::string_view rest = text;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view entry = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      FUZZ_CHECK(list->Contains(entry.substr(0, entry.find('/'))),
                 "a network does not contain its own address");
    }
    (void)list->Contains(address);
  }
  (void)NetworkList::Loopback().Contains(address);

  const std::string_view cookie = pneumo::http::CookieValue(header, pneumo::http::kSessionCookie);
  FUZZ_CHECK(Inside(cookie, header), "a cookie value that is not in the header");
  FUZZ_CHECK(cookie.find(';') == std::string_view::npos, "a cookie value with a ';'");
  const std::string_view token = pneumo::http::BearerToken(header);
  FUZZ_CHECK(Inside(token, header), "a bearer token that is not in the header");
  return 0;
}
