// Arbitrary bytes as a request head arriving on a connection (http/request_head.h), in pieces
// whose sizes the first byte chooses, as ConnectionServer's poller sees them. Checks: scanning
// piece by piece gives what one scan of all the bytes gives; a complete head ends with an empty
// line, within the byte limit, with at most the field limit of lines; DeclareEmptyBody adds its
// field only where the head declares no body length, keeps the bytes after the head, and the head
// it leaves is still complete, ending at the same place plus the field.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/request_head.h"

namespace {

using pneumo::http::DeclareEmptyBody;
using pneumo::http::RequestHeadScanner;

constexpr std::size_t kMaxHead = 2048;  // small, so that the fuzzer reaches the limit
constexpr std::size_t kMaxFields = 8;
constexpr std::string_view kAdded = "Content-Length: 0\r\n";

std::size_t Lines(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  RequestHeadScanner whole(kMaxHead, kMaxFields);
  const RequestHeadScanner::State at_once = whole.Scan(input);

  RequestHeadScanner pieces(kMaxHead, kMaxFields);
  RequestHeadScanner::State state = RequestHeadScanner::State::kIncomplete;
  std::size_t arrived = 0;
  while (state == RequestHeadScanner::State::kIncomplete && arrived < input.size()) {
    arrived = std::min(input.size(), arrived + piece);
    state = pieces.Scan(input.substr(0, arrived));
  }
  if (state == RequestHeadScanner::State::kIncomplete) {
    FUZZ_CHECK(at_once == state, "piece by piece differs from one scan");
    return 0;
  }
  // Stopping early on a piece is what the poller does: a later byte cannot change the verdict.
  FUZZ_CHECK(at_once == state, "piece by piece differs from one scan");
  if (state != RequestHeadScanner::State::kComplete) return 0;

  const std::size_t head_size = pieces.head_size();
  FUZZ_CHECK(head_size == whole.head_size(), "head sizes differ");
  FUZZ_CHECK(head_size <= kMaxHead && head_size <= input.size(), "head beyond its bytes");
  const std::string_view head = input.substr(0, head_size);
  FUZZ_CHECK(head.ends_with("\n\n") || head.ends_with("\n\r\n"), "head ends without empty line");
  FUZZ_CHECK(Lines(head) <= kMaxFields + 2, "more lines than the limit allows");

  std::string received(input);
  DeclareEmptyBody(received, head_size);
  const bool added = received.size() != input.size();
  if (added) {
    FUZZ_CHECK(received.size() == input.size() + kAdded.size(), "added something else");
    FUZZ_CHECK(
        received.substr(received.size() - (input.size() - head_size)) == input.substr(head_size),
        "the bytes after the head changed");
    FUZZ_CHECK(head.starts_with("POST ") || head.starts_with("PUT ") ||
                   head.starts_with("PATCH ") || head.starts_with("DELETE "),
               "added to a method without a body");
    RequestHeadScanner again(kMaxHead + kAdded.size(), kMaxFields + 1);
    FUZZ_CHECK(again.Scan(received) == RequestHeadScanner::State::kComplete &&
                   again.head_size() == head_size + kAdded.size(),
               "the corrected head does not end where it should");
  } else {
    FUZZ_CHECK(received == input, "changed without adding the field");
  }
  return 0;
}
