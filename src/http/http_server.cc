#include "http/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <expected>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <span>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "core/logging.h"
#include "core/socket_options.h"
#include "core/thread_priority.h"
#include "http/api_json.h"
#include "http/embedded_files.h"
#include "http/error_response.h"
#include "http/request_id.h"
#include "image/decode.h"
#include "metrics/process_metrics.h"
#include "serving/prediction_id.h"

namespace pneumo::http {
namespace {

using httplib::Request;
using httplib::Response;
using serving::PredictionService;
using Clock = std::chrono::steady_clock;

constexpr char kJson[] = "application/json";
constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";
const std::vector<double> kDurationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30};

// The request counter and duration histogram of one route and method, registered when the
// server starts. The counter of each status is looked up in the registry (under its global lock)
// the first time that status is answered, then kept here: the hot path takes no global lock.
class RouteMetrics {
 public:
  RouteMetrics(metrics::Registry& registry, std::string_view label, std::string_view method)
      : registry_(registry),
        label_(label),
        method_(method),
        duration_(registry.AddHistogram("pneumo_http_request_duration_seconds",
                                        "Time to answer an HTTP request", kDurationBuckets,
                                        {{"route", label_}, {"method", method_}})) {}

  void Record(int status, Clock::duration elapsed, bool timed) {
    if (status < 100 || status >= kStatuses) status = 500;
    metrics::Counter* counter = by_status_[status].load(std::memory_order_acquire);
    if (counter == nullptr) {
      counter = &registry_.AddCounter(
          "pneumo_http_requests_total", "HTTP requests answered, by route, method and status",
          {{"route", label_}, {"method", method_}, {"status", std::to_string(status)}});
      by_status_[status].store(counter, std::memory_order_release);
    }
    counter->Increment();
    if (timed) duration_.Observe(std::chrono::duration<double>(elapsed).count());
  }

 private:
  static constexpr int kStatuses = 600;
  metrics::Registry& registry_;
  const std::string label_, method_;
  metrics::Histogram& duration_;
  std::array<std::atomic<metrics::Counter*>, kStatuses> by_status_{};
};

// One request as a handler sees it.
struct Exchange {
  const Request& req;
  Response& res;
  const httplib::ContentReader* reader;  // set on routes that read their body themselves
  const RouteInfo& route;
  std::string failure_code;  // set when the answer is an error, for the logs
  std::string failure_message;
};

void Send(Exchange& ex, const HttpError& error) {
  const HttpError answer = ex.route.errors == ErrorShape::kCompat ? CompatError(error) : error;
  if (answer.retry_after_seconds > 0)
    ex.res.set_header("Retry-After", std::to_string(answer.retry_after_seconds));
  ex.res.status = answer.status;
  ex.res.set_content(ex.route.errors == ErrorShape::kCompat
                         ? CompatErrorBody(answer.message)
                         : ErrorBody(answer.code, answer.message),
                     kJson);
  ex.failure_code = answer.code;
  ex.failure_message = answer.message;
}

void Send(Exchange& ex, const Error& error) { Send(ex, ToHttpError(error)); }

void SendJson(Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(JsonText(body), kJson);
}

// Ids the server could have made; any other answers 404 without asking the store.
std::optional<std::string> KnownId(Exchange& ex) {
  std::string id = ex.req.matches[1];
  if (serving::IsPredictionId(id)) return id;
  Send(ex, RequestError(404, "not_found", "no prediction with id '" + id + "'"));
  return std::nullopt;
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

std::expected<Paging, HttpError> ParsePaging(const Request& req) {
  auto page = IntParam(req, "page", 1);
  auto per_page = IntParam(req, "per_page", 20);
  if (!page || !per_page || *page < 1 || *per_page < 1 ||
      *per_page > store::ResultStore::kMaxPerPage) {
    return std::unexpected(
        RequestError(400, "invalid_paging",
                     "page must be an integer >= 1 and per_page an integer from 1 to " +
                         std::to_string(store::ResultStore::kMaxPerPage)));
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
// step. An HttpError when the request carries no usable upload.
struct Upload {
  std::string bytes;
  std::string filename;  // as sent; empty for a raw body without ?filename= or a part without one
  bool multipart = false;
};

std::expected<Upload, HttpError> ReadUpload(const Request& req, Response& res,
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
        RequestError(413, "payload_too_large",
                     "the upload is larger than the limit of " + std::to_string(limit) + " bytes"));
  }
  const std::string no_body = "the request has no body; send the image as multipart field 'file'";
  if (!read && received == 0) return std::unexpected(RequestError(400, "empty_body", no_body));
  if (!read) {
    return std::unexpected(
        RequestError(400, "bad_request",
                     "the request body could not be read (malformed multipart or chunked body)"));
  }
  if (req.is_multipart_form_data()) {
    if (!multipart_file) {
      return std::unexpected(
          RequestError(400, "missing_file",
                       "the multipart form has no field named 'file'; put the image there"));
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
    return std::unexpected(RequestError(400, "empty_body", no_body));
  if (!raw_allowed) {
    return std::unexpected(RequestError(
        400, "missing_file", "this route takes a multipart form with the image in field 'file'"));
  }
  if (type != "image/jpeg" && type != "image/png" && type != "application/dicom") {
    return std::unexpected(RequestError(
        415, "unsupported_media_type",
        (type.empty() ? std::string("the request has no Content-Type")
                      : "Content-Type '" + type + "' is not accepted") +
            "; send multipart/form-data with the image in field 'file', or the image itself as "
            "image/jpeg, image/png or application/dicom"));
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

  using Handler = void (State::*)(Exchange&);
  struct Entry {
    RouteInfo info;
    Handler handler;
    bool reads_body = false;  // POST routes that stream their body through ReadUpload
  };
  static std::span<const Entry> Table();

  PredictionService& service;
  metrics::Registry& registry;
  const HttpOptions options;
  metrics::Gauge& queue_depth;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
  int port = 0;
  int listen_socket = -1;
  std::vector<std::unique_ptr<RouteMetrics>> route_metrics;  // one per Table() entry

  // Answers httplib made without a handler (unknown route, wrong method, oversized or malformed
  // requests): few and rare, so a local lock is fine.
  std::mutex fallback_mu;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RouteMetrics>>
      fallback_metrics;  // GUARDED_BY(fallback_mu)

  void Register();
  void Serve(std::size_t entry, const Request& req, Response& res,
             const httplib::ContentReader* reader);
  void AnswerUnhandled(const Request& req, Response& res);
  void Finish(RouteMetrics& metrics, Exchange& ex, Clock::duration elapsed, bool timed);

  // The handlers, one per route and method (see Table()).
  void PostPrediction(Exchange& ex);
  void PostCompatPrediction(Exchange& ex);
  void ListPredictions(Exchange& ex);
  void ListCompatPredictions(Exchange& ex);
  void GetPrediction(Exchange& ex);
  void GetImage(Exchange& ex);
  void GetHeatmap(Exchange& ex);
  void GetModel(Exchange& ex);
  void GetOpenApi(Exchange& ex);
  void Liveness(Exchange& ex);
  void Readiness(Exchange& ex);
  void CompatHealth(Exchange& ex);
  void Metrics(Exchange& ex);
  void Index(Exchange& ex);
  void Static(Exchange& ex);

  void Predict(Exchange& ex, bool compat);
  void ServeStatic(Exchange& ex, const std::string& name);
};

std::span<const HttpServer::State::Entry> HttpServer::State::Table() {
  using A = Access;
  using E = ErrorShape;
  static const Entry kTable[] = {
      {{"POST", "/api/v1/predictions", R"(/api/v1/predictions)", A::kSignedIn, E::kApi},
       &State::PostPrediction,
       /*reads_body=*/true},
      {{"GET", "/api/v1/predictions", R"(/api/v1/predictions)", A::kSignedIn, E::kApi},
       &State::ListPredictions},
      {{"GET", "/api/v1/predictions/{id}", R"(/api/v1/predictions/([^/]+))", A::kSignedIn, E::kApi},
       &State::GetPrediction},
      {{"GET", "/api/v1/predictions/{id}/image", R"(/api/v1/predictions/([^/]+)/image)",
        A::kSignedIn, E::kApi},
       &State::GetImage},
      {{"GET", "/api/v1/predictions/{id}/heatmap", R"(/api/v1/predictions/([^/]+)/heatmap)",
        A::kSignedIn, E::kApi},
       &State::GetHeatmap},
      {{"GET", "/api/v1/model", R"(/api/v1/model)", A::kSignedIn, E::kApi}, &State::GetModel},
      {{"GET", "/api/v1/openapi.json", R"(/api/v1/openapi\.json)", A::kSignedIn, E::kApi},
       &State::GetOpenApi},
      {{"POST", "/predict", R"(/predict)", A::kLegacy, E::kCompat},
       &State::PostCompatPrediction,
       /*reads_body=*/true},
      {{"GET", "/predictions", R"(/predictions)", A::kLegacy, E::kCompat},
       &State::ListCompatPredictions},
      {{"GET", "/health", R"(/health)", A::kLegacy, E::kCompat}, &State::CompatHealth},
      {{"GET", "/healthz", R"(/healthz)", A::kPublic, E::kApi}, &State::Liveness},
      {{"GET", "/readyz", R"(/readyz)", A::kPublic, E::kApi}, &State::Readiness},
      {{"GET", "/metrics", R"(/metrics)", A::kMetrics, E::kApi}, &State::Metrics},
      // The page shell and its assets hold no health data: what they show comes from the API.
      {{"GET", "/", R"(/)", A::kPublic, E::kApi}, &State::Index},
      {{"GET", "/static/{path}", R"(/static/(.+))", A::kPublic, E::kApi}, &State::Static},
  };
  return kTable;
}

std::vector<RouteInfo> HttpServer::Routes() {
  std::vector<RouteInfo> routes;
  for (const auto& entry : State::Table()) routes.push_back(entry.info);
  return routes;
}

void HttpServer::State::Predict(Exchange& ex, bool compat) {
  auto upload = ReadUpload(ex.req, ex.res, *ex.reader, options.max_upload_bytes,
                           /*raw_allowed=*/!compat);
  if (!upload) return Send(ex, upload.error());
  // The original's check for a form whose file input was left empty (the browser sends the part
  // with filename=""). httplib reports a part without any filename the same way.
  if (compat && upload->filename.empty())
    return Send(ex, RequestError(400, "no_file_selected", "No file selected"));
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(upload->bytes.data());
  auto record = service.Predict({bytes, upload->bytes.size()}, upload->filename);
  if (!record) return Send(ex, record.error());
  if (compat) {
    return SendJson(ex.res, 200, CompatPredictionJson(*record, EchoedImage(*upload, *record)));
  }
  ex.res.set_header("Location", "/api/v1/predictions/" + record->id);
  SendJson(ex.res, 201, PredictionJson(*record));
}

void HttpServer::State::PostPrediction(Exchange& ex) { Predict(ex, /*compat=*/false); }

void HttpServer::State::PostCompatPrediction(Exchange& ex) { Predict(ex, /*compat=*/true); }

void HttpServer::State::ListPredictions(Exchange& ex) {
  auto paging = ParsePaging(ex.req);
  if (!paging) return Send(ex, paging.error());
  auto page = service.store().List(paging->page, paging->per_page);
  if (!page) return Send(ex, page.error());
  SendJson(ex.res, 200, PredictionPageJson(*page));
}

// The original's paging rules: 25 a page, page < 1 and a page past the last refused (an empty
// history has no last page: its page 1, or any other, is empty).
void HttpServer::State::ListCompatPredictions(Exchange& ex) {
  const int number = CompatPageParam(ex.req);
  if (number < 1) return Send(ex, RequestError(400, "invalid_paging", "Page must be >= 1"));
  auto page = service.store().List(number, kCompatPerPage);
  if (!page) return Send(ex, page.error());
  const std::int64_t pages = (page->total + kCompatPerPage - 1) / kCompatPerPage;
  if (page->total > 0 && number > pages)
    return Send(ex, RequestError(400, "invalid_paging", "Page out of range"));
  ex.res.status = 200;
  ex.res.set_content(OrderedJsonText(CompatPageJson(*page)), kJson);
}

void HttpServer::State::GetPrediction(Exchange& ex) {
  auto id = KnownId(ex);
  if (!id) return;
  auto record = service.store().Get(*id);
  if (!record) return Send(ex, record.error());
  SendJson(ex.res, 200, PredictionJson(*record));
}

void HttpServer::State::GetImage(Exchange& ex) {
  auto id = KnownId(ex);
  if (!id) return;
  auto jpeg = service.store().GetPreview(*id);
  if (!jpeg) return Send(ex, jpeg.error());
  ex.res.set_header("Cache-Control", "private, max-age=31536000, immutable");  // ids never change
  ex.res.set_content(std::string(jpeg->begin(), jpeg->end()), "image/jpeg");
}

void HttpServer::State::GetHeatmap(Exchange& ex) {
  auto id = KnownId(ex);
  if (!id) return;
  auto png = service.Heatmap(*id);
  if (!png) return Send(ex, png.error());
  ex.res.set_header("Cache-Control", "private, max-age=31536000, immutable");
  ex.res.set_content(std::string(png->begin(), png->end()), "image/png");
}

void HttpServer::State::GetModel(Exchange& ex) {
  nlohmann::json card = model::ToJson(service.card());
  card["review_band"] = service.options().review.band;
  SendJson(ex.res, 200, card);
}

void HttpServer::State::GetOpenApi(Exchange& ex) {
  auto spec = FindEmbeddedFile(ApiFiles(), "openapi.json");
  if (!spec)
    return Send(ex, RequestError(404, "not_found", "this build carries no OpenAPI description"));
  ex.res.set_content(std::string(spec->content), kJson);
}

void HttpServer::State::Liveness(Exchange& ex) { SendJson(ex.res, 200, {{"status", "ok"}}); }

void HttpServer::State::Readiness(Exchange& ex) {
  auto ping = service.store().Ping();
  const std::string store = ping ? "ok" : ping.error().message;
  if (!ping) ex.failure_code = "store_unavailable";
  SendJson(ex.res, ping ? 200 : 503,
           {{"status", ping ? "ready" : "unavailable"},
            {"checks", {{"model", "ok"}, {"store", store}}}});
}

void HttpServer::State::CompatHealth(Exchange& ex) {
  const bool store_ok = service.store().Ping().has_value();
  if (!store_ok) ex.failure_code = "store_unavailable";
  SendJson(ex.res, store_ok ? 200 : 503, CompatHealthJson(store_ok, NowUnixMicros()));
}

void HttpServer::State::Metrics(Exchange& ex) {
  queue_depth.Set(static_cast<double>(service.queue_depth()));
  ex.res.set_content(registry.Render() + metrics::RenderProcessMetrics(), kPrometheusText);
}

void HttpServer::State::Index(Exchange& ex) { ServeStatic(ex, "index.html"); }

void HttpServer::State::Static(Exchange& ex) { ServeStatic(ex, ex.req.matches[1]); }

void HttpServer::State::ServeStatic(Exchange& ex, const std::string& name) {
  const bool traversal = name.find("..") != std::string::npos ||
                         name.find('\\') != std::string::npos || name.starts_with('/');
  const HttpError missing = RequestError(404, "not_found", "no such file: /static/" + name);
  if (traversal) return Send(ex, missing);
  std::string content;
  if (!options.web_root.empty()) {
    const auto path = options.web_root / name;
    std::ifstream file(path, std::ios::binary);
    if (!std::filesystem::is_regular_file(path) || !file) return Send(ex, missing);
    std::ostringstream buffer;
    buffer << file.rdbuf();
    content = buffer.str();
  } else {
    auto file = FindEmbeddedFile(WebFiles(), name);
    if (!file) return Send(ex, missing);
    content = std::string(file->content);
  }
  // The UI is small and changes with the binary: revalidate rather than risk a stale mix of files.
  ex.res.set_header("Cache-Control", "no-cache");
  ex.res.set_header("X-Content-Type-Options", "nosniff");
  ex.res.set_content(content, std::string(ContentTypeFor(name)));
}

// Every request ends here: its metrics, and one access-log line (the route's label, never the raw
// path, which may hold an id or a file name). Server-side failures also get an error line.
void HttpServer::State::Finish(RouteMetrics& metrics, Exchange& ex, Clock::duration elapsed,
                               bool timed) {
  const int status = ex.res.status < 0 ? 200 : ex.res.status;
  metrics.Record(status, elapsed, timed);
  if (status >= 500) {
    spdlog::error("event=http_error method={} route={} status={} code={} message=\"{}\"",
                  ex.req.method, ex.route.label, status, ex.failure_code, ex.failure_message);
  }
  if (options.access_log) {
    spdlog::info("event=http_request method={} route={} status={} duration_ms={:.2f} bytes={}",
                 ex.req.method, ex.route.label, status,
                 std::chrono::duration<double, std::milli>(elapsed).count(), ex.res.body.size());
  }
}

void HttpServer::State::Serve(std::size_t entry_index, const Request& req, Response& res,
                              const httplib::ContentReader* reader) {
  const auto start = Clock::now();
  thread_local bool lowered = false;
  if (!lowered && options.worker_nice > 0) {
    LowerThisThreadPriority(options.worker_nice);
    lowered = true;
  }
  const Entry& entry = Table()[entry_index];
  const std::string request_id = RequestIdFor(req.get_header_value("X-Request-Id"));
  const log::ScopedRequestId tag(request_id);
  res.set_header("X-Request-Id", request_id);
  Exchange ex{req, res, reader, entry.info};
  // The last line of defence: an exception becomes a 500 with a JSON body, not a lost connection.
  try {
    (this->*entry.handler)(ex);
  } catch (const std::exception& e) {
    Send(ex, Error{ErrorCode::kInternal, std::string("unexpected error: ") + e.what()});
  }
  Finish(*route_metrics[entry_index], ex, Clock::now() - start, /*timed=*/true);
}

// Answers that no handler wrote: unknown routes, wrong methods, and httplib's own refusals
// (oversized or malformed requests).
void HttpServer::State::AnswerUnhandled(const Request& req, Response& res) {
  // The route the path names, whatever the method: a known path with another method is a 405.
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> out;
    for (const auto& entry : Table()) out.emplace_back(std::string(entry.info.pattern));
    return out;
  }();
  const Entry* route = nullptr;
  std::string allowed;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!std::regex_match(req.path, patterns[i])) continue;
    if (route == nullptr) route = &Table()[i];
    if (Table()[i].info.label != route->info.label) continue;
    if (!allowed.empty()) allowed += ", ";
    allowed += Table()[i].info.method;
  }
  static const RouteInfo kUnmatched{"", "unmatched", "", Access::kPublic, ErrorShape::kApi};
  const RouteInfo& info = route ? route->info : kUnmatched;

  const std::string request_id = RequestIdFor(req.get_header_value("X-Request-Id"));
  const log::ScopedRequestId tag(request_id);
  res.set_header("X-Request-Id", request_id);
  Exchange ex{req, res, nullptr, info};
  if (res.status == 404 && route) {
    res.set_header("Allow", allowed);
    Send(ex, RequestError(405, "method_not_allowed",
                          req.method + " is not allowed on " + std::string(info.label) +
                              "; allowed: " + allowed));
  } else if (res.status == 404) {
    Send(ex,
         RequestError(404, "not_found",
                      "no route " + req.method + " " + req.path + "; see /api/v1/openapi.json"));
  } else if (res.status == 413) {
    Send(ex, RequestError(413, "payload_too_large",
                          "the upload is larger than the limit of " +
                              std::to_string(options.max_upload_bytes) + " bytes"));
  } else if (res.status == 400 && route && req.method == "POST" && req.body.empty()) {
    // httplib refuses a POST that declares no length before any handler runs.
    Send(ex, RequestError(400, "empty_body",
                          "the request has no body; send the image as multipart field 'file'"));
  } else if (res.status == 400) {
    Send(ex, RequestError(400, "bad_request",
                          "the request is malformed (bad headers, multipart body or URL)"));
  } else {
    Send(ex, RequestError(res.status, "http_" + std::to_string(res.status),
                          "the request could not be served"));
  }
  RouteMetrics* metrics = nullptr;
  {
    std::lock_guard lock(fallback_mu);
    auto& slot = fallback_metrics[{std::string(info.label), req.method}];
    if (!slot) slot = std::make_unique<RouteMetrics>(registry, info.label, req.method);
    metrics = slot.get();
  }
  Finish(*metrics, ex, {}, /*timed=*/false);
}

void HttpServer::State::Register() {
  const auto table = Table();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const Entry& entry = table[i];
    route_metrics.push_back(
        std::make_unique<RouteMetrics>(registry, entry.info.label, entry.info.method));
    const std::string pattern(entry.info.pattern);
    if (entry.reads_body) {
      server.Post(pattern,
                  [this, i](const Request& req, Response& res,
                            const httplib::ContentReader& reader) { Serve(i, req, res, &reader); });
      continue;
    }
    auto handler = [this, i](const Request& req, Response& res) { Serve(i, req, res, nullptr); };
    if (entry.info.method == "GET") {
      server.Get(pattern, handler);
    } else if (entry.info.method == "POST") {
      server.Post(pattern, handler);
    } else if (entry.info.method == "DELETE") {
      server.Delete(pattern, handler);
    } else if (entry.info.method == "PUT") {
      server.Put(pattern, handler);
    }
  }
  // Bodies our handlers wrote pass untouched.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        AnswerUnhandled(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const Request&, Response& res, const std::exception_ptr&) {
    res.status = 500;
    res.set_content(ErrorBody("internal", "unexpected error while serving the request"), kJson);
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(serving::PredictionService& service,
                                                      metrics::Registry& registry,
                                                      const HttpOptions& options) {
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

}  // namespace pneumo::http
