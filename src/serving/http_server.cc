#include "serving/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <expected>
#include <fstream>
#include <limits>
#include <regex>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include "core/socket_options.h"
#include "core/thread_priority.h"
#include "image/decode.h"
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

// The routes of the original Flask API answer errors in its shape, {"error": "<message>"}; all
// others in the API's, {"error": {"code", "message"}}.
enum class ErrorShape { kApi, kCompat };

// A route as the API documents it: its name (the metrics label), the pattern httplib matches and
// the methods it answers, so that a known path with another method gets 405 instead of 404.
struct Route {
  const char* name;
  const char* pattern;
  const char* methods;  // for the Allow header
  ErrorShape errors = ErrorShape::kApi;
};
constexpr Route kRoutes[] = {
    {"/api/v1/predictions", R"(/api/v1/predictions)", "GET, POST"},
    {"/api/v1/predictions/{id}", R"(/api/v1/predictions/([^/]+))", "GET"},
    {"/api/v1/predictions/{id}/image", R"(/api/v1/predictions/([^/]+)/image)", "GET"},
    {"/api/v1/predictions/{id}/heatmap", R"(/api/v1/predictions/([^/]+)/heatmap)", "GET"},
    {"/api/v1/model", R"(/api/v1/model)", "GET"},
    {"/api/v1/openapi.json", R"(/api/v1/openapi\.json)", "GET"},
    {"/predict", R"(/predict)", "POST", ErrorShape::kCompat},
    {"/predictions", R"(/predictions)", "GET", ErrorShape::kCompat},
    {"/health", R"(/health)", "GET", ErrorShape::kCompat},
    {"/healthz", R"(/healthz)", "GET"},
    {"/readyz", R"(/readyz)", "GET"},
    {"/metrics", R"(/metrics)", "GET"},
    {"/", R"(/)", "GET"},
    {"/static/{path}", R"(/static/(.+))", "GET"},
};

ErrorShape ErrorShapeOf(std::string_view route_name) {
  for (const auto& route : kRoutes) {
    if (route_name == route.name) return route.errors;
  }
  return ErrorShape::kApi;
}

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

// An answer that is not a success, before it is written in one of the two shapes.
struct Failure {
  int status;
  std::string code;  // the API's error code (docs/http-api.md)
  std::string message;
  const char* retry_after = nullptr;  // seconds, for 503s
};

// The original API's words for what it refused itself; pneumo's own refusals keep their message.
// A format pneumo does not decode is the original's "Invalid file type" (it judged by the file
// name; pneumo judges by the bytes), with the reason after a colon.
Failure AsCompat(Failure failure) {
  if (failure.code == "empty_body" || failure.code == "missing_file" ||
      failure.code == "unsupported_media_type") {
    return {400, failure.code, "No file uploaded"};
  }
  if (failure.code == "unsupported_format")
    return {400, failure.code, "Invalid file type: " + failure.message};
  return failure;
}

void SendFailure(Response& res, ErrorShape shape, const Failure& failure) {
  if (shape == ErrorShape::kApi) {
    if (failure.retry_after != nullptr) res.set_header("Retry-After", failure.retry_after);
    return SendError(res, failure.status, failure.code, failure.message);
  }
  const Failure compat = AsCompat(failure);
  if (compat.retry_after != nullptr) res.set_header("Retry-After", compat.retry_after);
  res.status = compat.status;
  res.set_content(CompatErrorBody(compat.message), kJson);
}

void SendJson(Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(JsonText(body), kJson);
}

// Errors from the store (an outage, a full disk) are the server's trouble, not the client's, and
// usually pass: 503 with a hint to retry.
Failure StoreFailure(const Error& error) {
  if (error.code == ErrorCode::kNotFound) return {404, "not_found", error.message};
  return {503, "store_unavailable", "the result store is unavailable: " + error.message, "5"};
}

void SendStoreError(Response& res, const Error& error) {
  SendFailure(res, ErrorShape::kApi, StoreFailure(error));
}

Failure PredictFailure(const PredictError& failure) {
  const std::string& message = failure.error.message;
  switch (failure.kind) {
    case PredictError::Kind::kBadInput:
      switch (failure.error.code) {
        case ErrorCode::kEmptyInput:
          return {400, "empty_body", message};
        case ErrorCode::kUnsupportedFormat:
          return {415, "unsupported_format", message};
        case ErrorCode::kImageTooLarge:
          return {413, "image_too_large", message};
        default:
          return {422, "invalid_image", message};
      }
    case PredictError::Kind::kBusy:
      return {503, "busy", message, "1"};
    case PredictError::Kind::kTimeout:
      return {503, "timeout", message, "1"};
    case PredictError::Kind::kStoreUnavailable:
      return {503, "store_unavailable", message, "5"};
    case PredictError::Kind::kInternal:
      return {500, "internal", message};
  }
  return {500, "internal", message};
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
  if (!page || !per_page || *page < 1 || *per_page < 1 ||
      *per_page > store::ResultStore::kMaxPerPage) {
    SendError(res, 400, "invalid_paging",
              "page must be an integer >= 1 and per_page an integer from 1 to " +
                  std::to_string(store::ResultStore::kMaxPerPage));
    return std::nullopt;
  }
  return Paging{*page, *per_page};
}

// The original's `page`: request.args.get("page", 1, type=int), so anything that is not an
// integer (Python's int(): spaces around, a sign) is page 1. Numbers beyond an int are clamped,
// which keeps them out of range (or below 1) as they were.
int CompatPageParam(const Request& req) {
  if (!req.has_param("page")) return 1;
  const std::string value_text = req.get_param_value("page");
  std::string_view text = value_text;
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  const bool negative = text.starts_with('-');
  if (text.starts_with('-') || text.starts_with('+')) text.remove_prefix(1);
  if (text.empty() || text.front() == '-' || text.front() == '+') return 1;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    const bool digits =
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) return 1;
    return negative ? std::numeric_limits<int>::min() : std::numeric_limits<int>::max();
  }
  if (ec != std::errc() || end != text.data() + text.size()) return 1;
  return negative ? -value : value;
}

// The upload's bytes and name, from a multipart field `file` or (where `raw_allowed`) a raw
// image body, read through httplib's streaming reader so that the size limit holds for chunked
// bodies too (they announce no length; httplib's own limit only checks Content-Length). The whole
// body is read, within the limit, before any answer, so that a keep-alive connection stays in
// step. A Failure when the request carries no usable upload.
struct Upload {
  std::string bytes;
  std::string filename;  // as sent; empty for a raw body without ?filename= or a part without one
  bool multipart = false;
};

std::expected<Upload, Failure> ReadUpload(const Request& req, Response& res,
                                          const httplib::ContentReader& reader, std::size_t limit,
                                          bool raw_allowed) {
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
    return std::unexpected(
        Failure{413, "payload_too_large",
                "the upload is larger than the limit of " + std::to_string(limit) + " bytes"});
  }
  const std::string no_body = "the request has no body; send the image as multipart field 'file'";
  if (!read && received == 0) return std::unexpected(Failure{400, "empty_body", no_body});
  if (!read) {
    return std::unexpected(
        Failure{400, "bad_request",
                "the request body could not be read (malformed multipart or chunked body)"});
  }
  if (req.is_multipart_form_data()) {
    if (!multipart_file) {
      return std::unexpected(
          Failure{400, "missing_file",
                  "the multipart form has no field named 'file'; put the image there"});
    }
    upload.multipart = true;
    return upload;
  }
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (type.empty() && upload.bytes.empty())
    return std::unexpected(Failure{400, "empty_body", no_body});
  if (!raw_allowed) {
    return std::unexpected(Failure{
        400, "missing_file", "this route takes a multipart form with the image in field 'file'"});
  }
  if (type != "image/jpeg" && type != "image/png" && type != "application/dicom") {
    return std::unexpected(Failure{
        415, "unsupported_media_type",
        (type.empty() ? std::string("the request has no Content-Type")
                      : "Content-Type '" + type + "' is not accepted") +
            "; send multipart/form-data with the image in field 'file', or the image itself as "
            "image/jpeg, image/png or application/dicom"});
  }
  upload.filename = req.has_param("filename") ? req.get_param_value("filename") : "";
  return upload;
}

// POST /predict echoes the upload as a data: URL, as the original did. A DICOM file is no image a
// browser shows: its preview (a JPEG of the decoded pixels, at most 384 px a side) stands in.
std::string EchoedImage(const Upload& upload, const store::PredictionRecord& record) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(upload.bytes.data());
  const std::span<const std::uint8_t> uploaded(bytes, upload.bytes.size());
  const auto format = image::SniffFormat(uploaded);
  if (format && *format == image::ImageFormat::kPng) return DataUrl("image/png", uploaded);
  if (format && *format == image::ImageFormat::kJpeg) return DataUrl("image/jpeg", uploaded);
  return DataUrl("image/jpeg", record.preview_jpeg);
}

std::int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

  void Count(const char* route, const std::string& method, int status, Clock::duration elapsed,
             bool timed) {
    registry
        .AddCounter("pneumo_http_requests_total",
                    "HTTP requests answered, by route, method and status",
                    {{"route", route}, {"method", method}, {"status", std::to_string(status)}})
        .Increment();
    if (timed) {
      registry
          .AddHistogram(
              "pneumo_http_request_duration_seconds", "Time to answer an HTTP request",
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
      SendFailure(res, ErrorShapeOf(route),
                  {500, "internal", std::string("unexpected error: ") + e.what()});
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
  void PostPrediction(const Request& req, Response& res, const httplib::ContentReader& reader,
                      bool compat);

  // Like Wrap, for the upload routes, which read their bodies themselves.
  template <typename Handler>
  httplib::Server::HandlerWithContentReader WrapUpload(const char* route, Handler handler) {
    return [this, route, handler](const Request& req, Response& res,
                                  const httplib::ContentReader& reader) {
      Timed(route, req, res, [&] { handler(req, res, reader); });
    };
  }
};

void HttpServer::State::PostPrediction(const Request& req, Response& res,
                                       const httplib::ContentReader& reader, bool compat) {
  const ErrorShape shape = compat ? ErrorShape::kCompat : ErrorShape::kApi;
  auto upload = ReadUpload(req, res, reader, options.max_upload_bytes, /*raw_allowed=*/!compat);
  if (!upload) return SendFailure(res, shape, upload.error());
  // The original's check for a form whose file input was left empty (the browser sends the part
  // with filename=""). httplib reports a part without any filename the same way.
  if (compat && upload->filename.empty()) {
    res.status = 400;
    return res.set_content(CompatErrorBody("No file selected"), kJson);
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(upload->bytes.data());
  auto record = service.Predict({bytes, upload->bytes.size()}, upload->filename);
  if (!record) return SendFailure(res, shape, PredictFailure(record.error()));
  if (compat)
    return SendJson(res, 200, CompatPredictionJson(*record, EchoedImage(*upload, *record)));
  res.set_header("Location", "/api/v1/predictions/" + record->id);
  SendJson(res, 201, PredictionJson(*record));
}

void HttpServer::State::ServeStatic(const std::string& name, Response& res) {
  const bool traversal = name.find("..") != std::string::npos ||
                         name.find('\\') != std::string::npos || name.starts_with('/');
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
         WrapUpload("/api/v1/predictions",
                    [this](const Request& req, Response& res, const httplib::ContentReader& r) {
                      PostPrediction(req, res, r, /*compat=*/false);
                    }));
  s.Post(R"(/predict)", WrapUpload("/predict", [this](const Request& req, Response& res,
                                                      const httplib::ContentReader& r) {
           PostPrediction(req, res, r, /*compat=*/true);
         }));
  s.Get(R"(/api/v1/predictions)",
        Wrap("/api/v1/predictions", [this](const Request& req, Response& res) {
          auto paging = ParsePaging(req, res);
          if (!paging) return;
          auto page = service.store().List(paging->page, paging->per_page);
          if (!page) return SendStoreError(res, page.error());
          SendJson(res, 200, PredictionPageJson(*page));
        }));
  // The original's paging rules: 25 a page, page < 1 and a page past the last refused (an empty
  // history has no last page: its page 1, or any other, is empty).
  s.Get(R"(/predictions)", Wrap("/predictions", [this](const Request& req, Response& res) {
          const int number = CompatPageParam(req);
          auto refuse = [&](const char* message) {
            res.status = 400;
            res.set_content(CompatErrorBody(message), kJson);
          };
          if (number < 1) return refuse("Page must be >= 1");
          auto page = service.store().List(number, kCompatPerPage);
          if (!page) return SendFailure(res, ErrorShape::kCompat, StoreFailure(page.error()));
          const std::int64_t pages = (page->total + kCompatPerPage - 1) / kCompatPerPage;
          if (page->total > 0 && number > pages) return refuse("Page out of range");
          res.status = 200;
          res.set_content(OrderedJsonText(CompatPageJson(*page)), kJson);
        }));
  s.Get(R"(/api/v1/predictions/([^/]+))",
        Wrap("/api/v1/predictions/{id}", [this](const Request& req, Response& res) {
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
          res.set_header("Cache-Control",
                         "private, max-age=31536000, immutable");  // ids never change
          res.set_content(std::string(png->begin(), png->end()), "image/jpeg");
        }));
  s.Get(R"(/api/v1/predictions/([^/]+)/heatmap)",
        Wrap("/api/v1/predictions/{id}/heatmap", [this](const Request& req, Response& res) {
          const std::string id = req.matches[1];
          if (!KnownIdShape(id, res)) return;
          auto png = service.Heatmap(id);
          if (!png) {
            if (png.error().code == ErrorCode::kModelError ||
                png.error().code == ErrorCode::kInternal)
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
          if (!spec)
            return SendError(res, 404, "not_found", "this build carries no OpenAPI description");
          res.set_content(std::string(spec->content), kJson);
        }));
  s.Get(R"(/healthz)", Wrap("/healthz", [](const Request&, Response& res) {
          SendJson(res, 200, {{"status", "ok"}});
        }));
  s.Get(R"(/readyz)", Wrap("/readyz", [this](const Request&, Response& res) {
          auto ping = service.store().Ping();
          const std::string store = ping ? "ok" : ping.error().message;
          SendJson(res, ping ? 200 : 503,
                   {{"status", ping ? "ready" : "unavailable"},
                    {"checks", {{"model", "ok"}, {"store", store}}}});
        }));
  s.Get(R"(/health)", Wrap("/health", [this](const Request&, Response& res) {
          const bool store_ok = service.store().Ping().has_value();
          SendJson(res, store_ok ? 200 : 503, CompatHealthJson(store_ok, NowUnixMicros()));
        }));
  s.Get(R"(/metrics)", Wrap("/metrics", [this](const Request&, Response& res) {
          queue_depth.Set(static_cast<double>(service.queue_depth()));
          res.set_content(registry.Render() + metrics::RenderProcessMetrics(), kPrometheusText);
        }));
  s.Get(R"(/)",
        Wrap("/", [this](const Request&, Response& res) { ServeStatic("index.html", res); }));
  s.Get(R"(/static/(.+))", Wrap("/static/{path}", [this](const Request& req, Response& res) {
          ServeStatic(req.matches[1], res);
        }));

  // Answers that no handler wrote: unknown routes, wrong methods, and httplib's own refusals
  // (oversized or malformed requests). Bodies our handlers wrote pass untouched.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req,
                                                                  Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const Route* route = RouteFor(req.path);
    const ErrorShape shape = route ? route->errors : ErrorShape::kApi;
    if (res.status == 404 && route) {
      res.set_header("Allow", route->methods);
      SendFailure(
          res, shape,
          {405, "method_not_allowed",
           req.method + " is not allowed on " + route->name + "; allowed: " + route->methods});
    } else if (res.status == 404) {
      SendError(res, 404, "not_found",
                "no route " + req.method + " " + req.path + "; see /api/v1/openapi.json");
    } else if (res.status == 413) {
      SendFailure(res, shape,
                  {413, "payload_too_large",
                   "the upload is larger than the limit of " +
                       std::to_string(options.max_upload_bytes) + " bytes"});
    } else if (res.status == 400 && route && req.method == "POST" && req.body.empty()) {
      // httplib refuses a POST that declares no length before any handler runs.
      SendFailure(
          res, shape,
          {400, "empty_body", "the request has no body; send the image as multipart field 'file'"});
    } else if (res.status == 400) {
      SendFailure(
          res, shape,
          {400, "bad_request", "the request is malformed (bad headers, multipart body or URL)"});
    } else {
      SendFailure(
          res, shape,
          {res.status, "http_" + std::to_string(res.status), "the request could not be served"});
    }
    Count(route ? route->name : "unmatched", req.method, res.status, {}, false);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const Request& req, Response& res, std::exception_ptr) {
    const Route* route = RouteFor(req.path);
    SendFailure(res, route ? route->errors : ErrorShape::kApi,
                {500, "internal", "unexpected error while serving the request"});
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(PredictionService& service,
                                                      metrics::Registry& registry,
                                                      HttpOptions options) {
  const std::string where = options.host + ":" + std::to_string(options.port);
  if (options.port < 0 || options.port > 65535)
    return Fail(ErrorCode::kInvalidArgument, "port out of range: " + where);
  if (options.threads < 1)
    return Fail(ErrorCode::kInvalidArgument, "--http-threads must be at least 1");
  if (!options.web_root.empty() &&
      !std::filesystem::is_regular_file(options.web_root / "index.html")) {
    return Fail(ErrorCode::kNotFound,
                "web root " + options.web_root.string() + " has no index.html");
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
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
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
    if (state->port < 0)
      return Fail(ErrorCode::kUnavailable, "cannot bind " + where + " (no free port, or bad host)");
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
  while (!s->server.is_running() && !s->finished)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
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
