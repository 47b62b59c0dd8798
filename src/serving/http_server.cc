#include "serving/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "core/socket_options.h"
#include "core/thread_priority.h"
#include "metrics/process_metrics.h"
#include "serving/api_json.h"
#include "serving/embedded_files.h"
#include "serving/prediction_id.h"

namespace pneumo::serving {
namespace {

using httplib::Request;
using httplib::Response;
using Clock = std::chrono::steady_clock;

constexpr char kJson[] = "application/json";
constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";

// A route as the API documents it: its name (the metrics label), the pattern httplib matches and
// the methods it answers, so that a known path with another method gets 405 instead of 404.
struct Route {
  const char* name;
  const char* pattern;
  const char* methods;  // for the Allow header
};
constexpr Route kRoutes[] = {
    {"/api/v1/predictions", R"(/api/v1/predictions)", "GET, POST"},
    {"/api/v1/predictions/{id}", R"(/api/v1/predictions/([^/]+))", "GET"},
    {"/api/v1/predictions/{id}/image", R"(/api/v1/predictions/([^/]+)/image)", "GET"},
    {"/api/v1/predictions/{id}/heatmap", R"(/api/v1/predictions/([^/]+)/heatmap)", "GET"},
    {"/api/v1/model", R"(/api/v1/model)", "GET"},
    {"/api/v1/openapi.json", R"(/api/v1/openapi\.json)", "GET"},
    {"/predict", R"(/predict)", "POST"},
    {"/predictions", R"(/predictions)", "GET"},
    {"/health", R"(/health)", "GET"},
    {"/healthz", R"(/healthz)", "GET"},
    {"/readyz", R"(/readyz)", "GET"},
    {"/metrics", R"(/metrics)", "GET"},
    {"/", R"(/)", "GET"},
    {"/static/{path}", R"(/static/(.+))", "GET"},
};

const Route* RouteFor(const std::string& path) {
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> out;
    for (const auto& route : kRoutes) out.emplace_back(route.pattern);
    return out;
  }();
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (std::regex_match(path, patterns[i])) return &kRoutes[i];
  }
  return nullptr;
}

void SendError(Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  res.set_content(ErrorBody(code, message), kJson);
}

void SendJson(Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(JsonText(body), kJson);
}

// Errors from the store (an outage, a full disk) are the server's trouble, not the client's, and
// usually pass: 503 with a hint to retry.
void SendStoreError(Response& res, const Error& error) {
  if (error.code == ErrorCode::kNotFound) return SendError(res, 404, "not_found", error.message);
  res.set_header("Retry-After", "5");
  SendError(res, 503, "store_unavailable", "the result store is unavailable: " + error.message);
}

void SendPredictError(Response& res, const PredictError& failure) {
  switch (failure.kind) {
    case PredictError::Kind::kBadInput:
      switch (failure.error.code) {
        case ErrorCode::kEmptyInput: return SendError(res, 400, "empty_body", failure.error.message);
        case ErrorCode::kUnsupportedFormat: return SendError(res, 415, "unsupported_format", failure.error.message);
        case ErrorCode::kImageTooLarge: return SendError(res, 413, "image_too_large", failure.error.message);
        default: return SendError(res, 422, "invalid_image", failure.error.message);
      }
    case PredictError::Kind::kBusy:
      res.set_header("Retry-After", "1");
      return SendError(res, 503, "busy", failure.error.message);
    case PredictError::Kind::kTimeout:
      res.set_header("Retry-After", "1");
      return SendError(res, 503, "timeout", failure.error.message);
    case PredictError::Kind::kStoreUnavailable:
      res.set_header("Retry-After", "5");
      return SendError(res, 503, "store_unavailable", failure.error.message);
    case PredictError::Kind::kInternal:
      return SendError(res, 500, "internal", failure.error.message);
  }
}

// Ids the server could have made; any other answers 404 without asking the store.
bool KnownIdShape(const std::string& id, Response& res) {
  if (IsPredictionId(id)) return true;
  SendError(res, 404, "not_found", "no prediction with id '" + id + "'");
  return false;
}

// A strictly parsed positive integer query parameter, or `fallback` when absent.
std::optional<int> IntParam(const Request& req, const char* name, int fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct Paging {
  int page = 1;
  int per_page = 20;
};

std::optional<Paging> ParsePaging(const Request& req, Response& res) {
  auto page = IntParam(req, "page", 1);
  auto per_page = IntParam(req, "per_page", 20);
  if (!page || !per_page || *page < 1 || *per_page < 1 || *per_page > store::ResultStore::kMaxPerPage) {
    SendError(res, 400, "invalid_paging",
              "page must be an integer >= 1 and per_page an integer from 1 to " +
                  std::to_string(store::ResultStore::kMaxPerPage));
    return std::nullopt;
  }
  return Paging{*page, *per_page};
}

// The upload's bytes and name, from a multipart field `file` or a raw image body, read through
// httplib's streaming reader so that the size limit holds for chunked bodies too (they announce
// no length; httplib's own limit only checks Content-Length). The whole body is read, within the
// limit, before any answer, so that a keep-alive connection stays in step. Answers the error
// itself and returns nullopt when the request carries no usable upload.
struct Upload {
  std::string bytes;
  std::string filename;
};

std::optional<Upload> ReadUpload(const Request& req, Response& res, const httplib::ContentReader& reader,
                                 std::size_t limit) {
  std::size_t received = 0;
  bool too_large = false;
  auto within_limit = [&](std::size_t n) {
    received += n;
    too_large = received > limit;
    return !too_large;
  };
  Upload upload;
  bool multipart_file = false;  // a part named "file" was seen
  bool read = false;
  if (req.is_multipart_form_data()) {
    bool in_file = false;
    read = reader(
        [&](const httplib::MultipartFormData& part) {
          in_file = part.name == "file" && !multipart_file;  // the first "file" part counts
          if (in_file) {
            multipart_file = true;
            upload.filename = part.filename;
          }
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (!within_limit(n)) return false;
          if (in_file) upload.bytes.append(data, n);
          return true;
        });
  } else {
    read = reader([&](const char* data, std::size_t n) {
      if (!within_limit(n)) return false;
      upload.bytes.append(data, n);
      return true;
    });
  }
  if (too_large || res.status == 413) {
    SendError(res, 413, "payload_too_large",
              "the upload is larger than the limit of " + std::to_string(limit) + " bytes");
    return std::nullopt;
  }
  if (!read && received == 0) {
    SendError(res, 400, "empty_body", "the request has no body; send the image as multipart field 'file'");
    return std::nullopt;
  }
  if (!read) {
    SendError(res, 400, "bad_request", "the request body could not be read (malformed multipart or chunked body)");
    return std::nullopt;
  }
  if (req.is_multipart_form_data()) {
    if (!multipart_file) {
      SendError(res, 400, "missing_file", "the multipart form has no field named 'file'; put the image there");
      return std::nullopt;
    }
    return upload;
  }
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  if (type.empty() && upload.bytes.empty()) {
    SendError(res, 400, "empty_body", "the request has no body; send the image as multipart field 'file'");
    return std::nullopt;
  }
  if (type != "image/jpeg" && type != "image/png" && type != "application/dicom") {
    SendError(res, 415, "unsupported_media_type",
              (type.empty() ? std::string("the request has no Content-Type")
                            : "Content-Type '" + type + "' is not accepted") +
                  "; send multipart/form-data with the image in field 'file', or the image itself as "
                  "image/jpeg, image/png or application/dicom");
    return std::nullopt;
  }
  upload.filename = req.has_param("filename") ? req.get_param_value("filename") : "";
  return upload;
}

}  // namespace

struct HttpServer::State {
  State(PredictionService& s, metrics::Registry& r, HttpOptions o)
      : service(s),
        registry(r),
        options(std::move(o)),
        queue_depth(r.AddGauge("pneumo_queue_depth", "Requests waiting for a batch")) {}

  PredictionService& service;
  metrics::Registry& registry;
  const HttpOptions options;
  metrics::Gauge& queue_depth;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
  int port = 0;
  int listen_socket = -1;

  void Count(const char* route, const std::string& method, int status, Clock::duration elapsed, bool timed) {
    registry
        .AddCounter("pneumo_http_requests_total", "HTTP requests answered, by route, method and status",
                    {{"route", route}, {"method", method}, {"status", std::to_string(status)}})
        .Increment();
    if (timed) {
      registry
          .AddHistogram("pneumo_http_request_duration_seconds", "Time to answer an HTTP request",
                        {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
                        {{"route", route}, {"method", method}})
          .Observe(std::chrono::duration<double>(elapsed).count());
    }
  }

  // Wraps a handler with request counting and timing, and a last line of defence: an exception
  // becomes a 500 with a JSON body instead of a dropped connection.
  template <typename Serve>
  void Timed(const char* route, const Request& req, Response& res, Serve&& serve) {
    const auto start = Clock::now();
    thread_local bool lowered = false;
    if (!lowered && options.worker_nice > 0) {
      LowerThisThreadPriority(options.worker_nice);
      lowered = true;
    }
    try {
      serve();
    } catch (const std::exception& e) {
      SendError(res, 500, "internal", std::string("unexpected error: ") + e.what());
    }
    Count(route, req.method, res.status < 0 ? 200 : res.status, Clock::now() - start, true);
  }

  template <typename Handler>
  httplib::Server::Handler Wrap(const char* route, Handler handler) {
    return [this, route, handler](const Request& req, Response& res) {
      Timed(route, req, res, [&] { handler(req, res); });
    };
  }

  void Register();
  void ServeStatic(const std::string& name, Response& res);
  void PostPrediction(const Request& req, Response& res, const httplib::ContentReader& reader, bool compat);

  // Like Wrap, for the upload routes, which read their bodies themselves.
  template <typename Handler>
  httplib::Server::HandlerWithContentReader WrapUpload(const char* route, Handler handler) {
    return [this, route, handler](const Request& req, Response& res, const httplib::ContentReader& reader) {
      Timed(route, req, res, [&] { handler(req, res, reader); });
    };
  }
};

void HttpServer::State::PostPrediction(const Request& req, Response& res, const httplib::ContentReader& reader,
                                       bool compat) {
  auto upload = ReadUpload(req, res, reader, options.max_upload_bytes);
  if (!upload) return;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(upload->bytes.data());
  auto record = service.Predict({bytes, upload->bytes.size()}, upload->filename);
  if (!record) return SendPredictError(res, record.error());
  if (compat) return SendJson(res, 200, CompatPredictionJson(*record));
  res.set_header("Location", "/api/v1/predictions/" + record->id);
  SendJson(res, 201, PredictionJson(*record));
}

void HttpServer::State::ServeStatic(const std::string& name, Response& res) {
  const bool traversal = name.find("..") != std::string::npos || name.find('\\') != std::string::npos ||
                         name.starts_with('/');
  if (traversal) return SendError(res, 404, "not_found", "no such file: /static/" + name);
  std::string content;
  if (!options.web_root.empty()) {
    const auto path = options.web_root / name;
    std::ifstream file(path, std::ios::binary);
    if (!std::filesystem::is_regular_file(path) || !file) {
      return SendError(res, 404, "not_found", "no such file: /static/" + name);
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    content = buffer.str();
  } else {
    auto file = FindEmbeddedFile(WebFiles(), name);
    if (!file) return SendError(res, 404, "not_found", "no such file: /static/" + name);
    content = std::string(file->content);
  }
  // The UI is small and changes with the binary: revalidate rather than risk a stale mix of files.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(std::move(content), std::string(ContentTypeFor(name)));
}

void HttpServer::State::Register() {
  auto& s = server;
  s.Post(R"(/api/v1/predictions)",
         WrapUpload("/api/v1/predictions", [this](const Request& req, Response& res, const httplib::ContentReader& r) {
           PostPrediction(req, res, r, /*compat=*/false);
         }));
  s.Post(R"(/predict)", WrapUpload("/predict", [this](const Request& req, Response& res, const httplib::ContentReader& r) {
    PostPrediction(req, res, r, /*compat=*/true);
  }));
  // The history in either shape: the API's or the original Flask one.
  auto list = [this](nlohmann::json (*shape)(const store::PredictionPage&)) {
    return [this, shape](const Request& req, Response& res) {
      auto paging = ParsePaging(req, res);
      if (!paging) return;
      auto page = service.store().List(paging->page, paging->per_page);
      if (!page) return SendStoreError(res, page.error());
      SendJson(res, 200, shape(*page));
    };
  };
  s.Get(R"(/api/v1/predictions)", Wrap("/api/v1/predictions", list(&PredictionPageJson)));
  s.Get(R"(/predictions)", Wrap("/predictions", list(&CompatPageJson)));
  s.Get(R"(/api/v1/predictions/([^/]+))", Wrap("/api/v1/predictions/{id}", [this](const Request& req, Response& res) {
    const std::string id = req.matches[1];
    if (!KnownIdShape(id, res)) return;
    auto record = service.store().Get(id);
    if (!record) return SendStoreError(res, record.error());
    SendJson(res, 200, PredictionJson(*record));
  }));
  s.Get(R"(/api/v1/predictions/([^/]+)/image)",
        Wrap("/api/v1/predictions/{id}/image", [this](const Request& req, Response& res) {
          const std::string id = req.matches[1];
          if (!KnownIdShape(id, res)) return;
          auto png = service.store().GetPreview(id);
          if (!png) return SendStoreError(res, png.error());
          res.set_header("Cache-Control", "private, max-age=31536000, immutable");  // ids never change
          res.set_content(std::string(png->begin(), png->end()), "image/jpeg");
        }));
  s.Get(R"(/api/v1/predictions/([^/]+)/heatmap)",
        Wrap("/api/v1/predictions/{id}/heatmap", [this](const Request& req, Response& res) {
          const std::string id = req.matches[1];
          if (!KnownIdShape(id, res)) return;
          auto png = service.Heatmap(id);
          if (!png) {
            if (png.error().code == ErrorCode::kModelError || png.error().code == ErrorCode::kInternal)
              return SendError(res, 500, "internal", png.error().message);
            if (png.error().code == ErrorCode::kCorruptInput)
              return SendError(res, 422, "invalid_image", png.error().message);
            return SendStoreError(res, png.error());
          }
          res.set_header("Cache-Control", "private, max-age=31536000, immutable");
          res.set_content(std::string(png->begin(), png->end()), "image/png");
        }));
  s.Get(R"(/api/v1/model)", Wrap("/api/v1/model", [this](const Request&, Response& res) {
    nlohmann::json card = model::ToJson(service.card());
    card["review_band"] = service.options().review.band;
    SendJson(res, 200, card);
  }));
  s.Get(R"(/api/v1/openapi\.json)", Wrap("/api/v1/openapi.json", [](const Request&, Response& res) {
    auto spec = FindEmbeddedFile(ApiFiles(), "openapi.json");
    if (!spec) return SendError(res, 404, "not_found", "this build carries no OpenAPI description");
    res.set_content(std::string(spec->content), kJson);
  }));
  s.Get(R"(/healthz)", Wrap("/healthz", [](const Request&, Response& res) {
    SendJson(res, 200, {{"status", "ok"}});
  }));
  s.Get(R"(/readyz)", Wrap("/readyz", [this](const Request&, Response& res) {
    auto ping = service.store().Ping();
    const std::string store = ping ? "ok" : ping.error().message;
    SendJson(res, ping ? 200 : 503,
             {{"status", ping ? "ready" : "unavailable"}, {"checks", {{"model", "ok"}, {"store", store}}}});
  }));
  s.Get(R"(/health)", Wrap("/health", [this](const Request&, Response& res) {
    const bool store_ok = service.store().Ping().has_value();
    SendJson(res, store_ok ? 200 : 503,
             {{"status", store_ok ? "healthy" : "unhealthy"}, {"model_loaded", true}, {"store_connected", store_ok}});
  }));
  s.Get(R"(/metrics)", Wrap("/metrics", [this](const Request&, Response& res) {
    queue_depth.Set(static_cast<double>(service.queue_depth()));
    res.set_content(registry.Render() + metrics::RenderProcessMetrics(), kPrometheusText);
  }));
  s.Get(R"(/)", Wrap("/", [this](const Request&, Response& res) { ServeStatic("index.html", res); }));
  s.Get(R"(/static/(.+))", Wrap("/static/{path}", [this](const Request& req, Response& res) {
    ServeStatic(req.matches[1], res);
  }));

  // Answers that no handler wrote: unknown routes, wrong methods, and httplib's own refusals
  // (oversized or malformed requests). Bodies our handlers wrote pass untouched.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const Route* route = RouteFor(req.path);
    if (res.status == 404 && route) {
      res.set_header("Allow", route->methods);
      SendError(res, 405, "method_not_allowed",
                req.method + " is not allowed on " + route->name + "; allowed: " + route->methods);
    } else if (res.status == 404) {
      SendError(res, 404, "not_found", "no route " + req.method + " " + req.path + "; see /api/v1/openapi.json");
    } else if (res.status == 413) {
      SendError(res, 413, "payload_too_large",
                "the upload is larger than the limit of " + std::to_string(options.max_upload_bytes) + " bytes");
    } else if (res.status == 400 && route && req.method == "POST" && req.body.empty()) {
      // httplib refuses a POST that declares no length before any handler runs.
      SendError(res, 400, "empty_body", "the request has no body; send the image as multipart field 'file'");
    } else if (res.status == 400) {
      SendError(res, 400, "bad_request", "the request is malformed (bad headers, multipart body or URL)");
    } else {
      SendError(res, res.status, "http_" + std::to_string(res.status), "the request could not be served");
    }
    Count(route ? route->name : "unmatched", req.method, res.status, {}, false);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    SendError(res, 500, "internal", "unexpected error while serving the request");
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(PredictionService& service, metrics::Registry& registry,
                                                      HttpOptions options) {
  const std::string where = options.host + ":" + std::to_string(options.port);
  if (options.port < 0 || options.port > 65535) return Fail(ErrorCode::kInvalidArgument, "port out of range: " + where);
  if (options.threads < 1) return Fail(ErrorCode::kInvalidArgument, "--http-threads must be at least 1");
  if (!options.web_root.empty() && !std::filesystem::is_regular_file(options.web_root / "index.html")) {
    return Fail(ErrorCode::kNotFound, "web root " + options.web_root.string() + " has no index.html");
  }
  auto state = std::make_unique<State>(service, registry, options);
  httplib::Server& server = state->server;
  // httplib listens with a backlog of 5, compiled in: a burst of new connections overflows it and
  // clients wait for SYN retries (~1 s). The options callback sees the listening socket; listen()
  // again after binding raises the backlog.
  int* listen_socket = &state->listen_socket;
  server.set_socket_options([listen_socket](socket_t socket) {
    pneumo::ReuseAddressOnly(socket);
    *listen_socket = socket;
  });
  // Responses go out as headers then body: without this, Nagle's algorithm holds the body until the
  // client's delayed ACK (40 ms) arrives.
  server.set_tcp_nodelay(true);
  const int threads = options.threads;
  // httplib's API takes ownership of a raw pointer here.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  server.set_payload_max_length(options.max_upload_bytes);
  // A keep-alive connection holds its thread while open: after 100 requests it is closed so that
  // waiting connections get a turn even when clients outnumber --http-threads.
  server.set_keep_alive_max_count(100);
  server.set_keep_alive_timeout(5);
  server.set_read_timeout(30);
  server.set_write_timeout(30);
  state->Register();

  if (options.port == 0) {
    state->port = server.bind_to_any_port(options.host);
    if (state->port < 0) return Fail(ErrorCode::kUnavailable, "cannot bind " + where + " (no free port, or bad host)");
  } else {
    if (!server.bind_to_port(options.host, options.port)) {
      return Fail(ErrorCode::kUnavailable,
                  "cannot listen on " + where + " (port in use, no permission, or bad host)");
    }
    state->port = options.port;
  }
  if (state->listen_socket >= 0) ::listen(state->listen_socket, SOMAXCONN);
  State* s = state.get();
  s->thread = std::thread([s] {
    s->server.listen_after_bind();
    s->finished = true;
  });
  // stop() is ignored until the loop marks itself running (see metrics/exporter.cc).
  while (!s->server.is_running() && !s->finished) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return state_->port; }

void HttpServer::Stop() {
  if (!state_->thread.joinable()) return;
  state_->server.stop();
  state_->thread.join();
}

}  // namespace pneumo::serving
