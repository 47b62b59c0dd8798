// The limits pneumo's HTTP server keeps every connection to (http/connection_server.h), apart
// from the server itself so that its options can name them without pulling in httplib.
#pragma once

#include <chrono>
#include <cstddef>

namespace pneumo::http {

struct ConnectionLimits {
  int max_connections = 512;               // open at once (--http-max-connections); more get 503
  std::size_t max_head_bytes = 64u << 10;  // request line and headers together
  std::size_t max_header_fields = 100;     // as Apache's LimitRequestFields
  std::chrono::milliseconds head_timeout{10'000};  // from a head's first byte, or from accept
  std::chrono::milliseconds idle_timeout{5'000};   // a kept-alive connection between requests
  std::chrono::milliseconds io_timeout{30'000};    // one read or write that makes no progress
  // A body may take body_grace plus one second per min_body_rate bytes: an upload of 25 MB at
  // the default takes at most 26 min, a client sending a byte a second is cut off after 10 s.
  std::chrono::milliseconds body_grace{10'000};
  std::size_t min_body_rate = 16u << 10;  // bytes per second
  int max_requests_per_connection = 100;  // then closed, so that no client keeps a place forever
};

}  // namespace pneumo::http
