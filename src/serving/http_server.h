// The HTTP face of pneumo serve (cpp-httplib): the API of docs/http-api.md, the Flask-compatible
// routes, health, metrics and the web UI, over a PredictionService.
//
//   auto server = HttpServer::Start(*service, registry, {.host = "127.0.0.1", .port = 8080});
//   if (!server) Fail(server.error());       // port in use, bad host
//   ...                                      // serves on its own threads until Stop()
//   (*server)->Stop();
//
// Every answer that is not a success carries {"error": {"code", "message"}} (on the original
// Flask API's routes, POST /predict, GET /predictions and GET /health, its {"error": "<message>"});
// no input makes it answer 500 or stop serving others. Requests run on a pool of `threads` threads,
// so that many concurrent uploads can decode in parallel and meet in one batch.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "core/error.h"
#include "metrics/registry.h"
#include "serving/prediction_service.h"

namespace pneumo::serving {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                           // 0 picks a free port (see port())
  std::size_t max_upload_bytes = 25u << 20;  // larger bodies get 413 payload_too_large
  int threads = 64;                          // connections served at once
  std::filesystem::path web_root;            // serve web/ from here instead of the embedded copy
  // Nice value for the HTTP threads (decoding runs on them); 0 leaves them at the process's.
  // See core/thread_priority.h for why the model's threads should win.
  int worker_nice = 10;
};

class HttpServer {
 public:
  // Binds and starts serving on a background thread. kUnavailable when the address cannot be
  // bound (in use, no permission, unknown host); kInvalidArgument for bad options.
  static Result<std::unique_ptr<HttpServer>> Start(PredictionService& service,
                                                   metrics::Registry& registry,
                                                   HttpOptions options);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Stops accepting, lets requests in flight finish, joins the serving thread. Idempotent.
  void Stop();

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pneumo::serving
