// The HTTP face of pneumo serve (cpp-httplib): the API of docs/http-api.md, the Flask-compatible
// routes, health, metrics and the web UI, over a serving::PredictionService.
//
//   auto server = HttpServer::Start(*service, registry, {.host = "127.0.0.1", .port = 8080});
//   if (!server) Fail(server.error());       // port in use, bad host
//   ...                                      // serves on its own threads until Stop()
//   (*server)->Stop();
//
// One route table (HttpServer::Routes) is the single source of every route: registration, the
// 405 Allow lists, the metrics labels and the OpenAPI check derive from it. Every answer that is
// not a success carries {"error": {"code", "message"}} (on the original Flask API's routes,
// POST /predict, GET /predictions and GET /health, its {"error": "<message>"}), with the status
// of http/error_response.h; no input makes it answer 500 or stop serving others. Each request
// gets an id (X-Request-Id, see http/request_id.h) and one access-log line. Requests run on a
// pool of `threads` threads, so that many concurrent uploads decode in parallel and meet in one
// batch.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "dicom/dicom_node.h"
#include "http/access_control.h"
#include "http/connection_limits.h"
#include "metrics/registry.h"
#include "serving/prediction_service.h"

namespace pneumo::http {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                           // 0 picks a free port (see port())
  std::size_t max_upload_bytes = 25u << 20;  // larger bodies get 413 payload_too_large
  int threads = 64;                          // requests processed at once
  // How many connections may be open, and how long and large a request's head and body may be
  // (http/connection_server.h): idle and slow clients wait without holding a thread.
  ConnectionLimits connections;
  std::filesystem::path web_root;  // serve web/ from here instead of the embedded copy
  // Nice value for the HTTP threads (decoding runs on them); 0 leaves them at the process's.
  // See core/thread_priority.h for why the model's threads should win.
  int worker_nice = 10;
  bool access_log = true;  // one info line per request (method, route, status, duration, bytes)
  // Accounts: when set, every route is checked against its Access before its handler runs
  // (http/access_control.h), doctors see only the predictions they uploaded, and uploads, views
  // and listings leave audit entries. Null: no accounts, every route open (as before accounts
  // existed). REQUIRES: outlives the server.
  auth::AccountService* accounts = nullptr;
  store::AuditStore* audit = nullptr;  // for GET /api/v1/audit; REQUIRES: set with `accounts`
  AccessOptions access;                // --metrics-networks, --legacy-clients
};

// The routes of the original Flask API answer errors in its shape, {"error": "<message>"}; all
// others in the API's, {"error": {"code", "message"}}.
enum class ErrorShape { kApi, kCompat };

struct RouteInfo {
  std::string_view method;   // "GET", "POST", "DELETE"
  std::string_view label;    // as documented and in metrics: "/api/v1/predictions/{id}"
  std::string_view pattern;  // the regular expression httplib matches against the path
  Access access;
  ErrorShape errors;
};

class HttpServer {
 public:
  // Binds and starts serving on a background thread. kUnavailable when the address cannot be
  // bound (in use, no permission, unknown host); kInvalidArgument for bad options.
  // `dicom` (may be null: the DICOM routes then answer 404) serves STOW-RS, the SR of a
  // prediction, the received-instances log and the send states; it must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(serving::PredictionService& service,
                                                   metrics::Registry& registry,
                                                   const HttpOptions& options,
                                                   dicom::DicomNode* dicom = nullptr);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Every route the server answers, one entry per method, in the table's order.
  static std::vector<RouteInfo> Routes();

  int port() const;
  // Stops accepting, lets requests in flight finish, joins the serving thread. Idempotent.
  void Stop();

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pneumo::http
