// Accepts and watches HTTP connections for an httplib::Server, so that pneumo enforces the limits
// cpp-httplib 0.11 has none of: how many connections are open, how long a request's head may take
// to arrive, how many header fields it has, how slowly a body may trickle in.
//
//   RequestProcessor routes;                      // an httplib::Server: register handlers on it
//   auto server = ConnectionServer::Start(routes, "127.0.0.1", 8080, /*workers=*/64, limits,
//                                         &registry);
//   ...
//   (*server)->Stop();                             // or let it go out of scope
//
// One thread polls every connection that is between requests: new ones, kept-alive ones and ones
// whose head is still arriving. Only a connection whose whole head has arrived goes to one of the
// `workers`, which runs httplib's request processing (routing, body, answer) on it and gives the
// connection back. A client that trickles its head, or opens connections and sends nothing, holds
// a file descriptor and a small buffer, never a worker thread; the head timeout then closes it.
// This is what nginx, Apache's mod_reqtimeout and Jetty do; httplib alone gives each connection a
// thread for its whole life, so 64 slow clients stopped the server.
//
// Refusals happen before any route runs, so they are answered in the API's error shape with
// `Connection: close` and counted in pneumo_http_connections_refused_total{reason}:
//   503 too_many_connections  max_connections are open
//   408 request_timeout       the head did not arrive within head_timeout of its first byte
//   431 header_too_large      the head is over max_head_bytes or has over max_header_fields fields
//   408 request_timeout       the body came slower than min_body_rate after body_grace
// Thread-safe: Start and Stop from one thread; the rest runs on the server's own threads.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/connection_limits.h"
#include "http/request_head.h"

namespace pneumo::metrics {
class Registry;
}

namespace pneumo::http {

// httplib::Server with its request processing reachable: register the routes on it as usual.
class RequestProcessor : public httplib::Server {
 public:
  // One request from `stream`. `close` asks for `Connection: close` in the answer; `closed` says
  // whether httplib decided the connection ends (the client asked, or HTTP/1.0). False when the
  // request could not be read or the answer not written.
  bool ProcessOne(httplib::Stream& stream, bool close, bool& closed) {
    return process_request(stream, close, closed, nullptr);
  }
};

class ConnectionServer {
 public:
  // Binds host:port (0 picks a free port, see port()) and starts serving `routes`, which must
  // outlive the server, on `workers` threads (requests processed at once). kUnavailable when the
  // address cannot be bound; kInvalidArgument for bad limits. `registry` (may be null) gets the
  // connection gauge and the refusal counters.
  static Result<std::unique_ptr<ConnectionServer>> Start(RequestProcessor& routes,
                                                         const std::string& host, int port,
                                                         int workers,
                                                         const ConnectionLimits& limits,
                                                         metrics::Registry* registry);
  ~ConnectionServer();  // Stop()
  ConnectionServer(const ConnectionServer&) = delete;
  ConnectionServer& operator=(const ConnectionServer&) = delete;

  int port() const;
  // Stops accepting, closes the connections that wait between requests, lets the requests in
  // progress finish (each within the io timeouts) and joins every thread. Idempotent.
  void Stop();

 private:
  struct State;
  explicit ConnectionServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pneumo::http
