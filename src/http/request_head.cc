#include "http/request_head.h"

#include <algorithm>
#include <cctype>

namespace pneumo::http {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

void DeclareEmptyBody(std::string& received, std::size_t head_size) {
  const std::string_view head(received.data(), head_size);
  const std::string_view method = head.substr(0, head.find(' '));
  if (method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE") return;
  for (std::size_t at = head.find('\n'); at != std::string_view::npos && at + 1 < head.size();
       at = head.find('\n', at + 1)) {
    const std::string_view line = head.substr(at + 1);
    const std::string_view name = line.substr(0, line.find(':'));
    if (EqualsIgnoringCase(name, "content-length") ||
        EqualsIgnoringCase(name, "transfer-encoding")) {
      return;
    }
  }
  // Before the empty line that ends the head (which is "\r\n" or "\n").
  const std::size_t end = head.ends_with("\r\n\r\n") ? head_size - 2 : head_size - 1;
  received.insert(end, "Content-Length: 0\r\n");
}

RequestHeadScanner::State RequestHeadScanner::Scan(std::string_view received) {
  const std::size_t end = std::min(received.size(), max_head_bytes_);
  for (; scanned_ < end; ++scanned_) {
    if (received[scanned_] != '\n') continue;
    const std::size_t length = scanned_ - line_start_;
    const bool empty = length == 0 || (length == 1 && received[line_start_] == '\r');
    line_start_ = scanned_ + 1;
    if (empty && lines_ > 0) {
      head_size_ = scanned_ + 1;
      return State::kComplete;
    }
    if (++lines_ > max_header_fields_ + 1) return State::kTooManyFields;  // + the request line
  }
  return received.size() >= max_head_bytes_ ? State::kTooLarge : State::kIncomplete;
}

}  // namespace pneumo::http
