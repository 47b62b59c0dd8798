// The head of an HTTP request while it arrives, before httplib parses it (http/connection_server.h
// holds connections in this state): where it ends, whether it keeps to the limits, and the one
// correction httplib needs. Pure functions of their input; no sockets.
//
//   RequestHeadScanner head(64 << 10, 100);
//   received += more;                                  // as bytes arrive
//   if (head.Scan(received) == RequestHeadScanner::State::kComplete) {
//     DeclareEmptyBody(received, head.head_size());
//     ...                                              // hand `received` to httplib
//   }
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pneumo::http {

// Finds where the head of a request that is still arriving ends, and whether it keeps within the
// limits, across reads: each call scans only the bytes added since the last one.
class RequestHeadScanner {
 public:
  enum class State { kIncomplete, kComplete, kTooLarge, kTooManyFields };
  RequestHeadScanner(std::size_t max_head_bytes, std::size_t max_header_fields)
      : max_head_bytes_(max_head_bytes), max_header_fields_(max_header_fields) {}
  // `received` starts at the request line and only grows between calls; Reset() for a new head.
  State Scan(std::string_view received);
  std::size_t head_size() const { return head_size_; }  // kComplete: up to the empty line's end
  void Reset() { *this = RequestHeadScanner(max_head_bytes_, max_header_fields_); }

 private:
  std::size_t max_head_bytes_, max_header_fields_;
  std::size_t scanned_ = 0, line_start_ = 0, lines_ = 0, head_size_ = 0;
};

// A request whose head names neither Content-Length nor Transfer-Encoding has no body (RFC 9112
// section 6.3), but httplib 0.11 would wait for the connection to end to read one: for the
// methods it reads bodies of, this adds "Content-Length: 0" to the head, the first `head_size`
// bytes of `received`.
void DeclareEmptyBody(std::string& received, std::size_t head_size);

}  // namespace pneumo::http
