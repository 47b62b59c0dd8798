// Serves a Registry on http://HOST:PORT/metrics from a background thread (cpp-httplib).
//
//   pneumo::metrics::Registry registry;
//   auto exporter = pneumo::metrics::Exporter::Start(registry, "0.0.0.0", 8000);
//   if (!exporter) fail(exporter.error());
//   ...                                   // training runs; Prometheus scrapes
//   // the destructor stops the server and joins the thread
//
// Thread-safe; the registry must outlive the exporter.
#pragma once

#include <memory>
#include <string>

#include "core/error.h"
#include "metrics/registry.h"

namespace pneumo::metrics {

class Exporter {
 public:
  // kUnavailable when the port cannot be bound (in use, no permission, unknown host); the message
  // names host:port. kInvalidArgument for a port outside 0..65535. port 0 picks a free one. Only
  // GET /metrics is served (Content-Type text/plain; version=0.0.4); other paths answer 404.
  // Unlike httplib's default, the socket is not SO_REUSEPORT, so a port in use is reported.
  static Result<std::unique_ptr<Exporter>> Start(const Registry& registry, const std::string& host,
                                                 int port);
  ~Exporter();  // stops the server and joins its thread (at most ~1 s for an idle keep-alive)
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  int port() const;  // the bound port

 private:
  struct State;
  explicit Exporter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pneumo::metrics
