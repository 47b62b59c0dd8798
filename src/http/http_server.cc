#include "http/http_server.h"

#include <fmt/format.h>
#include <httplib.h>

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
#include <optional>
#include <regex>
#include <span>
#include <sstream>
#include <utility>
#include <vector>

#include "auth/audit_json.h"
#include "core/logging.h"
#include "core/thread_priority.h"
#include "dicom/stow.h"
#include "http/api_json.h"
#include "http/connection_server.h"
#include "http/csv.h"
#include "http/embedded_files.h"
#include "http/error_response.h"
#include "http/json_body.h"
#include "http/query_params.h"
#include "http/request_id.h"
#include "http/upload_reader.h"
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
  // With accounts on: who is asking (absent on public routes and for trusted networks).
  std::optional<auth::Principal> principal;
  std::optional<auth::Session> session;  // when a cookie authenticated
  std::string request_id;
  std::string client_address;  // the browser's, through a trusted proxy (ClientAddress)

  // A doctor sees only their own predictions; admins, and callers without accounts, see all.
  bool MaySee(const store::PredictionRecord& record) const {
    return !principal || principal->role == auth::Role::kAdmin || record.owner == principal->user;
  }
  auth::RequestInfo Info() const {
    return {.client_address = client_address, .request_id = request_id};
  }
};

// --- accounts (docs/security-api.md) ---

nlohmann::json SessionJson(const auth::Session& s) {
  return {{"user", s.principal.user},
          {"role", std::string(auth::RoleName(s.principal.role))},
          {"csrf_token", s.csrf_token},
          {"must_change_password", s.principal.must_change_password},
          {"expires_at", auth::IsoTimeMs(s.expires_at_ms)},
          {"idle_expires_at", auth::IsoTimeMs(s.idle_expires_at_ms)}};
}

nlohmann::json UserJson(const auth::UserInfo& u) {
  return {{"name", u.name},
          {"role", std::string(auth::RoleName(u.role))},
          {"disabled", u.disabled},
          {"must_change_password", u.must_change_password},
          {"created_at", auth::IsoTimeMs(u.created_at_ms)}};
}

nlohmann::json TokenJson(const auth::TokenInfo& t) {
  return {{"id", t.id},
          {"user", t.user},
          {"label", t.label},
          {"created_at", auth::IsoTimeMs(t.created_at_ms)},
          {"expires_at", auth::IsoTimeMs(t.expires_at_ms)},
          {"revoked", t.revoked},
          {"expired", t.expired}};
}

// The JSON object of a request body; an HttpError when it is not one.
std::expected<nlohmann::json, HttpError> JsonBody(const Request& req, bool empty_allowed) {
  if (req.body.empty() && empty_allowed) return nlohmann::json::object();
  return ParseJsonObject(req.body);
}

// body[key] as a string ("" when absent); an HttpError when present but not a string.
std::expected<std::string, HttpError> StringField(const nlohmann::json& body, const char* key) {
  if (!body.contains(key)) return std::string();
  if (!body[key].is_string()) {
    return std::unexpected(
        RequestError(400, "bad_request", std::string("'") + key + "' must be a string"));
  }
  return body[key].get<std::string>();
}

// Behind the TLS proxy (deploy/nginx sets it, and only a trusted proxy is believed): the cookie
// gets Secure.
bool OverTls(const Request& req, const AccessOptions& access) {
  return access.trusted_proxies.Contains(req.remote_addr) &&
         req.get_header_value("X-Forwarded-Proto") == "https";
}

// On every answer, the API's and the UI's alike: the UI has no inline script or style, so the
// policy allows only this origin's files; health data is never cached unless a handler said how.
void SetSecurityHeaders(Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                 "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                 "form-action 'self'; frame-ancestors 'none'");
  if (!res.has_header("X-Content-Type-Options"))
    res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cross-Origin-Opener-Policy", "same-origin");
  if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
}

// Another doctor's prediction answers exactly as a missing one, so that ids cannot be probed.
HttpError NotYours(const std::string& id) {
  return RequestError(404, "not_found", "no prediction with id '" + id + "'");
}

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
  return ParseStrictInt(req.get_param_value(name));
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
  return req.has_param("page") ? ParseCompatPage(req.get_param_value("page")) : 1;
}

// Reads a request body that will not be used, to its end or to `limit` bytes (a chunked body
// announces no length), as an upload would be.
void DiscardBody(const Request& req, const httplib::ContentReader& reader, std::size_t limit) {
  std::size_t received = 0;
  const auto drop = [&](const char*, std::size_t n) { return (received += n) <= limit; };
  if (req.is_multipart_form_data()) {
    reader([](const httplib::MultipartFormData&) { return true; }, drop);
  } else {
    reader(drop);
  }
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

nlohmann::json SendStateJson(const dicom::SendState& s) {
  return {
      {"kind", s.kind},
      {"prediction_id", s.prediction_id},
      {"sop_instance_uid", s.sop_instance_uid},
      {"state", s.state},
      {"attempts", s.attempts},
      {"last_error", s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error)},
      {"queued_at", serving::IsoUtc(s.queued_at_ms)},
      {"sent_at",
       s.sent_at_ms > 0 ? nlohmann::json(serving::IsoUtc(s.sent_at_ms)) : nlohmann::json(nullptr)}};
}

std::int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct HttpServer::State {
  State(PredictionService& s, metrics::Registry& r, HttpOptions o, dicom::DicomNode* d)
      : service(s),
        registry(r),
        options(std::move(o)),
        dicom(d),
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
  dicom::DicomNode* const dicom;  // may be null
  metrics::Gauge& queue_depth;
  RequestProcessor server;  // the routes; connections come from `connections`
  std::unique_ptr<ConnectionServer> connections;
  std::vector<std::unique_ptr<RouteMetrics>> route_metrics;  // one per Table() entry

  // Answers httplib made without a handler (unknown route, wrong method, oversized or malformed
  // requests): few and rare, so a local lock is fine.
  std::mutex fallback_mu;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RouteMetrics>>
      fallback_metrics;  // GUARDED_BY(fallback_mu)

  void Register();
  // Runs the route's access check (accounts on); false when it answered a refusal.
  bool Admit(Exchange& ex);
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
  void DeletePrediction(Exchange& ex);
  void ExportPredictions(Exchange& ex);
  void GetImage(Exchange& ex);
  void GetHeatmap(Exchange& ex);
  void GetStructuredReport(Exchange& ex);
  void StowInstances(Exchange& ex);
  void ListReceivedInstances(Exchange& ex);
  void ListDicomSends(Exchange& ex);
  bool HasDicom(Exchange& ex);
  void GetModel(Exchange& ex);
  void GetOpenApi(Exchange& ex);
  void Liveness(Exchange& ex);
  void Readiness(Exchange& ex);
  void CompatHealth(Exchange& ex);
  void Metrics(Exchange& ex);
  void Index(Exchange& ex);
  void Static(Exchange& ex);

  void Login(Exchange& ex);
  void GetSession(Exchange& ex);
  void Logout(Exchange& ex);
  void ChangePassword(Exchange& ex);
  void ListUsers(Exchange& ex);
  void CreateUser(Exchange& ex);
  void DisableUser(Exchange& ex);
  void ResetPassword(Exchange& ex);
  void ListTokens(Exchange& ex);
  void CreateToken(Exchange& ex);
  void RevokeToken(Exchange& ex);
  void ListAudit(Exchange& ex);
  // The account service, or a 404 "accounts are off" (then null).
  auth::AccountService* Accounts(Exchange& ex);
  // The account service and who is asking, for the routes that act as someone; answers (404
  // without accounts, 401 without a principal) and returns nothing otherwise.
  struct Caller {
    auth::AccountService& accounts;
    const auth::Principal& who;
  };
  std::optional<Caller> SignedIn(Exchange& ex);

  void Predict(Exchange& ex, bool compat);
  // The record behind ex.req.matches[1] when the caller may see it; otherwise answers and
  // returns nothing (404 for a malformed, unknown or another doctor's id).
  std::optional<store::PredictionRecord> VisibleRecord(Exchange& ex, std::string_view action);
  // An audit entry for a health-data access, when accounts are on. False (and a 503 sent) when
  // it cannot be written: health data is not served unaudited.
  bool Audit(Exchange& ex, std::string_view action, std::string_view target,
             std::string_view outcome);
  Result<store::PredictionPage> ListFor(const Exchange& ex, store::ListQuery query);
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
      {{"DELETE", "/api/v1/predictions/{id}", R"(/api/v1/predictions/([^/]+))", A::kAdmin, E::kApi},
       &State::DeletePrediction},
      {{"GET", "/api/v1/predictions.csv", R"(/api/v1/predictions\.csv)", A::kAdmin, E::kApi},
       &State::ExportPredictions},
      {{"GET", "/api/v1/predictions/{id}/image", R"(/api/v1/predictions/([^/]+)/image)",
        A::kSignedIn, E::kApi},
       &State::GetImage},
      {{"GET", "/api/v1/predictions/{id}/heatmap", R"(/api/v1/predictions/([^/]+)/heatmap)",
        A::kSignedIn, E::kApi},
       &State::GetHeatmap},
      {{"GET", "/api/v1/predictions/{id}/sr", R"(/api/v1/predictions/([^/]+)/sr)", A::kSignedIn,
        E::kApi},
       &State::GetStructuredReport},
      {{"POST", "/dicomweb/studies", R"(/dicomweb/studies)", A::kSignedIn, E::kApi},
       &State::StowInstances,
       /*reads_body=*/true},
      {{"GET", "/api/v1/dicom/received", R"(/api/v1/dicom/received)", A::kSignedIn, E::kApi},
       &State::ListReceivedInstances},
      {{"GET", "/api/v1/dicom/sends", R"(/api/v1/dicom/sends)", A::kSignedIn, E::kApi},
       &State::ListDicomSends},
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
      // Accounts. Logging in is open (it is how one signs in); the service checks self-or-admin
      // on the token routes.
      {{"POST", "/api/v1/session", R"(/api/v1/session)", A::kPublic, E::kApi}, &State::Login},
      // Open so that a page can ask "who am I" without an error in the console: it answers
      // {"accounts": false} on a server without accounts and {"user": null} when not signed in.
      {{"GET", "/api/v1/session", R"(/api/v1/session)", A::kPublic, E::kApi}, &State::GetSession},
      {{"DELETE", "/api/v1/session", R"(/api/v1/session)", A::kSignedIn, E::kApi}, &State::Logout},
      {{"POST", "/api/v1/session/password", R"(/api/v1/session/password)", A::kSignedIn, E::kApi},
       &State::ChangePassword},
      {{"GET", "/api/v1/users", R"(/api/v1/users)", A::kAdmin, E::kApi}, &State::ListUsers},
      {{"POST", "/api/v1/users", R"(/api/v1/users)", A::kAdmin, E::kApi}, &State::CreateUser},
      {{"POST", "/api/v1/users/{name}/disable", R"(/api/v1/users/([^/]+)/disable)", A::kAdmin,
        E::kApi},
       &State::DisableUser},
      {{"POST", "/api/v1/users/{name}/password", R"(/api/v1/users/([^/]+)/password)", A::kAdmin,
        E::kApi},
       &State::ResetPassword},
      {{"GET", "/api/v1/users/{name}/tokens", R"(/api/v1/users/([^/]+)/tokens)", A::kSignedIn,
        E::kApi},
       &State::ListTokens},
      {{"POST", "/api/v1/users/{name}/tokens", R"(/api/v1/users/([^/]+)/tokens)", A::kSignedIn,
        E::kApi},
       &State::CreateToken},
      {{"DELETE", "/api/v1/tokens/{id}", R"(/api/v1/tokens/([^/]+))", A::kSignedIn, E::kApi},
       &State::RevokeToken},
      {{"GET", "/api/v1/audit", R"(/api/v1/audit)", A::kAdmin, E::kApi}, &State::ListAudit},
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
  auto record = service.Predict({bytes, upload->bytes.size()}, upload->filename,
                                ex.principal ? ex.principal->user : std::string());
  if (!record) return Send(ex, record.error());
  if (!Audit(ex, "prediction.create", record->id, "success")) return;
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
  const std::string accession =
      ex.req.has_param("accession") ? ex.req.get_param_value("accession") : "";
  auto page = ListFor(
      ex, store::ListQuery{
              .page = paging->page, .per_page = paging->per_page, .accession_number = accession});
  if (!page) return Send(ex, page.error());
  if (!Audit(ex, "prediction.list", "page " + std::to_string(paging->page), "success")) return;
  SendJson(ex.res, 200, PredictionPageJson(*page));
}

// The original's paging rules: 25 a page, page < 1 and a page past the last refused (an empty
// history has no last page: its page 1, or any other, is empty).
void HttpServer::State::ListCompatPredictions(Exchange& ex) {
  const int number = CompatPageParam(ex.req);
  if (number < 1) return Send(ex, RequestError(400, "invalid_paging", "Page must be >= 1"));
  auto page = ListFor(ex, store::ListQuery{.page = number, .per_page = kCompatPerPage});
  if (!page) return Send(ex, page.error());
  if (!Audit(ex, "prediction.list", "page " + std::to_string(number), "success")) return;
  const std::int64_t pages = (page->total + kCompatPerPage - 1) / kCompatPerPage;
  if (page->total > 0 && number > pages)
    return Send(ex, RequestError(400, "invalid_paging", "Page out of range"));
  ex.res.status = 200;
  ex.res.set_content(OrderedJsonText(CompatPageJson(*page)), kJson);
}

std::optional<store::PredictionRecord> HttpServer::State::VisibleRecord(Exchange& ex,
                                                                        std::string_view action) {
  auto id = KnownId(ex);
  if (!id) return std::nullopt;
  auto record = service.store().Get(*id);
  if (!record) {
    Send(ex, record.error());
    return std::nullopt;
  }
  if (!ex.MaySee(*record)) {
    if (Audit(ex, action, *id, "denied")) Send(ex, NotYours(*id));
    return std::nullopt;
  }
  if (!Audit(ex, action, *id, "success")) return std::nullopt;
  return std::move(*record);
}

bool HttpServer::State::Audit(Exchange& ex, std::string_view action, std::string_view target,
                              std::string_view outcome) {
  if (options.accounts == nullptr) return true;
  auto recorded = options.accounts->Record(ex.principal ? &*ex.principal : nullptr, action, target,
                                           ex.Info(), outcome);
  if (recorded) return true;
  Send(ex,
       Error{ErrorCode::kUnavailable, "the audit trail cannot be written, so nothing is served: " +
                                          recorded.error().message});
  return false;
}

// A doctor's listings hold only their own studies; an admin's (and any without accounts) all.
Result<store::PredictionPage> HttpServer::State::ListFor(const Exchange& ex,
                                                         store::ListQuery query) {
  if (ex.principal && ex.principal->role != auth::Role::kAdmin) query.owner = ex.principal->user;
  return service.store().List(query);
}

// The whole history (or one accession number's) as CSV, newest first: admins only, audited,
// refused without accounts. The columns are the API's; patient attributes are not exported.
void HttpServer::State::ExportPredictions(Exchange& ex) {
  if (options.accounts == nullptr) {
    return Send(ex,
                RequestError(403, "forbidden",
                             "the history export needs accounts: it is for admins and audited"));
  }
  const std::string accession = ex.req.get_param_value("accession");
  std::string csv = CsvRow({"id", "created_at", "filename", "label", "probability", "threshold",
                            "review", "review_reasons", "out_of_distribution", "model",
                            "model_version", "owner", "accession_number", "study_instance_uid"});
  constexpr int kPerPage = store::ResultStore::kMaxPerPage;
  std::int64_t exported = 0;
  for (int page = 1;; ++page) {
    auto listed = ListFor(
        ex, store::ListQuery{.page = page, .per_page = kPerPage, .accession_number = accession});
    if (!listed) return Send(ex, listed.error());
    for (const store::PredictionRecord& r : listed->items) {
      const nlohmann::json shown = PredictionJson(r);
      std::string reasons;
      for (const auto& reason : shown["review_reasons"])
        if (reason.is_string())
          reasons += (reasons.empty() ? "" : "; ") + reason.get<std::string>();
      csv +=
          CsvRow({r.id, r.created_at, r.filename, r.label, fmt::format("{:.6f}", r.probability),
                  fmt::format("{:.6f}", r.threshold), r.review ? "true" : "false", reasons,
                  shown["out_of_distribution"].get<bool>() ? "true" : "false", r.model_name,
                  r.model_version, r.owner, r.dicom.accession_number, r.dicom.study_instance_uid});
    }
    exported += static_cast<std::int64_t>(listed->items.size());
    if (listed->items.empty() || exported >= listed->total) break;
  }
  if (!Audit(ex, "prediction.export", accession.empty() ? "all" : "accession " + accession,
             "success")) {
    return;
  }
  ex.res.set_header("Content-Disposition", "attachment; filename=\"pneumo-history.csv\"");
  ex.res.set_content(csv, "text/csv; charset=utf-8");
}

// Admins only, and only with accounts on: a deletion is for good, so it must say who did it.
void HttpServer::State::DeletePrediction(Exchange& ex) {
  if (options.accounts == nullptr) {
    return Send(ex, RequestError(403, "forbidden",
                                 "deleting a study needs accounts: it is for admins and audited"));
  }
  auto id = KnownId(ex);
  if (!id) return;
  auto deleted = service.Delete(*id);
  const bool missing = !deleted && deleted.error().code == ErrorCode::kNotFound;
  if (!Audit(ex, "prediction.delete", *id,
             deleted ? "success" : (missing ? "not_found" : "failed"))) {
    return;
  }
  if (!deleted) return Send(ex, deleted.error());
  ex.res.status = 204;
}

void HttpServer::State::GetPrediction(Exchange& ex) {
  auto record = VisibleRecord(ex, "prediction.view");
  if (!record) return;
  nlohmann::json answer = PredictionJson(*record);
  if (dicom && dicom->queue()) {
    nlohmann::json sends = nlohmann::json::array();
    for (const auto& s : dicom->SendsFor(record->id)) sends.push_back(SendStateJson(s));
    answer["dicom_sends"] = std::move(sends);
  }
  SendJson(ex.res, 200, answer);
}

bool HttpServer::State::HasDicom(Exchange& ex) {
  if (dicom) return true;
  Send(ex, RequestError(404, "not_found", "this server runs without its DICOM node"));
  return false;
}

void HttpServer::State::GetStructuredReport(Exchange& ex) {
  if (!HasDicom(ex)) return;
  auto record = VisibleRecord(ex, "prediction.sr");
  if (!record) return;
  const std::string id = record->id;
  auto sr = dicom->StructuredReport(id);
  if (!sr && sr.error().code == ErrorCode::kInvalidArgument) {
    return Send(ex, RequestError(404, "not_found", sr.error().message));
  }
  if (!sr) return Send(ex, sr.error());
  ex.res.set_header("Content-Disposition", "attachment; filename=\"" + id + "-sr.dcm\"");
  ex.res.set_content(std::string(sr->begin(), sr->end()), "application/dicom");
}

// STOW-RS (PS3.18 10.5): the body is read whole (up to --max-upload-mb), then each part goes
// through the DICOM node like a C-STORE.
void HttpServer::State::StowInstances(Exchange& ex) {
  if (!HasDicom(ex)) return;
  std::string body;
  bool too_large = false;
  const bool read = (*ex.reader)([&](const char* data, std::size_t length) {
    if (body.size() + length > options.max_upload_bytes) {
      too_large = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  if (too_large) {
    return Send(ex,
                RequestError(413, "payload_too_large", "the STOW-RS body is over --max-upload-mb"));
  }
  if (!read)
    return Send(ex, RequestError(400, "bad_request", "the request body could not be read"));
  const auto stow =
      dicom::Stow(ex.req.get_header_value("Content-Type"),
                  {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}, *dicom);
  if (stow.http_status == 400)
    return Send(ex, RequestError(400, "bad_request",
                                 nlohmann::json::parse(stow.body)["error"].get<std::string>()));
  if (stow.http_status == 415) {
    return Send(ex, RequestError(415, "unsupported_media_type",
                                 nlohmann::json::parse(stow.body)["error"].get<std::string>()));
  }
  ex.res.status = stow.http_status;
  ex.res.set_content(stow.body, stow.content_type);
}

void HttpServer::State::ListReceivedInstances(Exchange& ex) {
  if (!HasDicom(ex)) return;
  auto log = service.store().ListReceived(store::ResultStore::kMaxPerPage);
  if (!log) return Send(ex, log.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : *log) {
    items.push_back({{"received_at", r.received_at},
                     {"source", r.source},
                     {"study_instance_uid", r.study_instance_uid},
                     {"series_instance_uid", r.series_instance_uid},
                     {"sop_instance_uid", r.sop_instance_uid},
                     {"sop_class_uid", r.sop_class_uid},
                     {"accession_number", r.accession_number},
                     {"modality", r.modality},
                     {"outcome", r.outcome},
                     {"reason", r.reason},
                     {"prediction_id", r.prediction_id.empty() ? nlohmann::json(nullptr)
                                                               : nlohmann::json(r.prediction_id)}});
  }
  SendJson(ex.res, 200, {{"items", std::move(items)}});
}

void HttpServer::State::ListDicomSends(Exchange& ex) {
  if (!HasDicom(ex)) return;
  nlohmann::json items = nlohmann::json::array();
  const dicom::SendQueue* queue = dicom->queue();
  if (queue) {
    for (const auto& s : queue->List()) items.push_back(SendStateJson(s));
  }
  SendJson(ex.res, 200,
           {{"destination",
             queue ? nlohmann::json(queue->destination().ToString()) : nlohmann::json(nullptr)},
            {"queue_depth", queue ? queue->depth() : 0},
            {"items", std::move(items)}});
}

void HttpServer::State::GetImage(Exchange& ex) {
  auto record = VisibleRecord(ex, "prediction.image");
  if (!record) return;
  const auto& jpeg = record->preview_jpeg;
  // An X-ray is health data: not kept in the browser's disk cache on a shared workstation.
  ex.res.set_header("Cache-Control", "no-store");
  ex.res.set_content(std::string(jpeg.begin(), jpeg.end()), "image/jpeg");
}

void HttpServer::State::GetHeatmap(Exchange& ex) {
  auto record = VisibleRecord(ex, "prediction.heatmap");
  if (!record) return;
  auto png = service.Heatmap(record->id);
  if (!png) return Send(ex, png.error());
  ex.res.set_header("Cache-Control", "no-store");
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

auth::AccountService* HttpServer::State::Accounts(Exchange& ex) {
  if (options.accounts == nullptr || options.audit == nullptr) {
    Send(ex, RequestError(404, "not_found",
                          "accounts are off on this server (start pneumo serve with --accounts)"));
    return nullptr;
  }
  return options.accounts;
}

std::optional<HttpServer::State::Caller> HttpServer::State::SignedIn(Exchange& ex) {
  auth::AccountService* accounts = Accounts(ex);
  if (accounts == nullptr) return std::nullopt;
  if (!ex.principal) {
    Send(ex, Error{ErrorCode::kUnauthenticated, "this needs a session or an API token"});
    return std::nullopt;
  }
  return Caller{*accounts, *ex.principal};
}

void HttpServer::State::Login(Exchange& ex) {
  auto* accounts = Accounts(ex);
  if (!accounts) return;
  auto body = JsonBody(ex.req, /*empty_allowed=*/false);
  if (!body) return Send(ex, body.error());
  auto user = StringField(*body, "user");
  auto password = StringField(*body, "password");
  if (!user) return Send(ex, user.error());
  if (!password) return Send(ex, password.error());
  auto session = accounts->Login(*user, *password, ex.Info());
  if (!session) return Send(ex, session.error());
  ex.res.set_header("Set-Cookie", SessionCookieHeader(*session, accounts->NowMs(),
                                                      OverTls(ex.req, options.access)));
  ex.res.set_header("Cache-Control", "no-store");
  SendJson(ex.res, 200, SessionJson(*session));
}

void HttpServer::State::GetSession(Exchange& ex) {
  ex.res.set_header("Cache-Control", "no-store");
  if (options.accounts == nullptr) return SendJson(ex.res, 200, {{"accounts", false}});
  const std::string authorization = ex.req.get_header_value("Authorization");
  const std::string cookie = ex.req.get_header_value("Cookie");
  auto decision = CheckAccess(Access::kSignedIn, ex.route.label,
                              {.method = ex.req.method,
                               .authorization = authorization,
                               .cookie = cookie,
                               .client_address = ex.client_address},
                              *options.accounts, options.access);
  if (!decision && decision.error().code == ErrorCode::kUnauthenticated) {
    return SendJson(ex.res, 200, {{"accounts", true}, {"user", nullptr}});
  }
  if (!decision) return Send(ex, decision.error());
  nlohmann::json body;
  const std::optional<auth::Session>& session = decision->session;
  const std::optional<auth::Principal>& principal = decision->principal;
  if (session) {
    body = SessionJson(*session);
  } else if (principal) {
    body = {{"user", principal->user},
            {"role", std::string(auth::RoleName(principal->role))},
            {"via", "token"}};
  }
  body["accounts"] = true;
  SendJson(ex.res, 200, body);
}

void HttpServer::State::Logout(Exchange& ex) {
  auto* accounts = Accounts(ex);
  if (!accounts) return;
  const std::string cookie = ex.req.get_header_value("Cookie");
  if (auto done = accounts->Logout(CookieValue(cookie, kSessionCookie), ex.Info()); !done) {
    return Send(ex, done.error());
  }
  ex.res.set_header("Set-Cookie", ClearedSessionCookieHeader(OverTls(ex.req, options.access)));
  ex.res.status = 204;
}

void HttpServer::State::ChangePassword(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  auto body = JsonBody(ex.req, /*empty_allowed=*/false);
  if (!body) return Send(ex, body.error());
  auto old_password = StringField(*body, "old_password");
  auto new_password = StringField(*body, "new_password");
  if (!old_password) return Send(ex, old_password.error());
  if (!new_password) return Send(ex, new_password.error());
  auto session = accounts->ChangePassword(caller->who, *old_password, *new_password, ex.Info());
  if (!session) return Send(ex, session.error());
  ex.res.set_header("Set-Cookie", SessionCookieHeader(*session, accounts->NowMs(),
                                                      OverTls(ex.req, options.access)));
  ex.res.set_header("Cache-Control", "no-store");
  SendJson(ex.res, 200, SessionJson(*session));
}

void HttpServer::State::ListUsers(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  auto users = accounts->ListUsers(caller->who);
  if (!users) return Send(ex, users.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& u : *users) items.push_back(UserJson(u));
  SendJson(ex.res, 200, {{"items", items}});
}

void HttpServer::State::CreateUser(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  auto body = JsonBody(ex.req, /*empty_allowed=*/false);
  if (!body) return Send(ex, body.error());
  auto name = StringField(*body, "name");
  auto role_name = StringField(*body, "role");
  if (!name) return Send(ex, name.error());
  if (!role_name) return Send(ex, role_name.error());
  auto role = auth::ParseRole(*role_name);
  if (!role) return Send(ex, role.error());
  auto otp = accounts->CreateUser(caller->who, *name, *role, ex.Info());
  if (!otp) return Send(ex, otp.error());
  ex.res.set_header("Location", "/api/v1/users/" + otp->user);
  ex.res.set_header("Cache-Control", "no-store");
  SendJson(ex.res, 201,
           {{"name", otp->user},
            {"role", std::string(auth::RoleName(*role))},
            {"one_time_password", otp->password}});
}

void HttpServer::State::DisableUser(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  const std::string name = ex.req.matches[1];
  if (auto done = accounts->DisableUser(caller->who, name, ex.Info()); !done) {
    return Send(ex, done.error());
  }
  SendJson(ex.res, 200, {{"name", name}, {"disabled", true}});
}

void HttpServer::State::ResetPassword(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  auto otp = accounts->ResetPassword(caller->who, std::string(ex.req.matches[1]), ex.Info());
  if (!otp) return Send(ex, otp.error());
  ex.res.set_header("Cache-Control", "no-store");
  SendJson(ex.res, 200, {{"name", otp->user}, {"one_time_password", otp->password}});
}

void HttpServer::State::ListTokens(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  auto tokens = accounts->ListTokens(caller->who, std::string(ex.req.matches[1]));
  if (!tokens) return Send(ex, tokens.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& t : *tokens) items.push_back(TokenJson(t));
  SendJson(ex.res, 200, {{"items", items}});
}

void HttpServer::State::CreateToken(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  auto body = JsonBody(ex.req, /*empty_allowed=*/true);
  if (!body) return Send(ex, body.error());
  auto label = StringField(*body, "label");
  if (!label) return Send(ex, label.error());
  int days = 0;
  if (body->contains("expires_days")) {
    if (!(*body)["expires_days"].is_number_integer()) {
      return Send(ex, RequestError(400, "bad_request", "'expires_days' must be an integer"));
    }
    const auto requested = (*body)["expires_days"].get<std::int64_t>();
    days = requested < 1 || requested > 100'000 ? -1 : static_cast<int>(requested);
  }
  auto made =
      accounts->CreateToken(caller->who, std::string(ex.req.matches[1]), *label, days, ex.Info());
  if (!made) return Send(ex, made.error());
  nlohmann::json out = TokenJson(made->info);
  out["token"] = made->token;
  ex.res.set_header("Cache-Control", "no-store");
  SendJson(ex.res, 201, out);
}

void HttpServer::State::RevokeToken(Exchange& ex) {
  auto caller = SignedIn(ex);
  if (!caller) return;
  auth::AccountService* accounts = &caller->accounts;
  if (auto done = accounts->RevokeToken(caller->who, std::string(ex.req.matches[1]), ex.Info());
      !done) {
    return Send(ex, done.error());
  }
  ex.res.status = 204;
}

void HttpServer::State::ListAudit(Exchange& ex) {
  if (!Accounts(ex)) return;
  store::AuditFilter filter{.user = ex.req.get_param_value("user"),
                            .action = ex.req.get_param_value("action")};
  for (const auto& [name, out] :
       {std::pair{"since", &filter.since_ms}, std::pair{"until", &filter.until_ms}}) {
    if (!ex.req.has_param(name)) continue;
    auto ms = auth::ParseIsoTime(ex.req.get_param_value(name));
    if (!ms) return Send(ex, ms.error());
    *out = *ms;
  }
  auto page = IntParam(ex.req, "page", 1);
  auto per_page = IntParam(ex.req, "per_page", 50);
  if (!page || !per_page || *page < 1 || *per_page < 1 ||
      *per_page > store::AuditStore::kMaxPerPage) {
    return Send(ex, RequestError(400, "invalid_paging",
                                 "page must be an integer >= 1 and per_page an integer from 1 to " +
                                     std::to_string(store::AuditStore::kMaxPerPage)));
  }
  auto listed = options.audit->List(filter, *page, *per_page);
  if (!listed) return Send(ex, listed.error());
  if (!Audit(ex, "audit.list", "page " + std::to_string(*page), "success")) return;
  nlohmann::json items = nlohmann::json::array();
  for (const auto& e : listed->items) items.push_back(auth::AuditEntryJson(e));
  ex.res.set_header("Cache-Control", "no-store");
  SendJson(ex.res, 200,
           {{"items", items},
            {"page", listed->page},
            {"per_page", listed->per_page},
            {"total", listed->total}});
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

bool HttpServer::State::Admit(Exchange& ex) {
  if (options.accounts == nullptr) return true;
  const std::string authorization = ex.req.get_header_value("Authorization");
  const std::string cookie = ex.req.get_header_value("Cookie");
  const std::string csrf = ex.req.get_header_value("X-CSRF-Token");
  auto decision = CheckAccess(ex.route.access, ex.route.label,
                              {.method = ex.req.method,
                               .authorization = authorization,
                               .cookie = cookie,
                               .csrf_token = csrf,
                               .client_address = ex.client_address},
                              *options.accounts, options.access);
  if (!decision) {
    if (decision.error().code == ErrorCode::kUnauthenticated) {
      ex.res.set_header("WWW-Authenticate", "Bearer realm=\"pneumo\"");
    }
    Send(ex, decision.error());
    return false;
  }
  ex.principal = std::move(decision->principal);
  ex.session = std::move(decision->session);
  return true;
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
  ex.request_id = request_id;
  ex.client_address = ClientAddress(req.remote_addr, req.get_header_value("X-Real-IP"),
                                    options.access.trusted_proxies);
  // The last line of defence: an exception becomes a 500 with a JSON body, not a lost connection.
  try {
    if (!Admit(ex)) {
      // A refused upload's body is still read (and dropped) before the answer, as ReadUpload
      // does: left in the socket, it would be taken for the keep-alive connection's next request.
      if (reader != nullptr) DiscardBody(req, *reader, options.max_upload_bytes);
      SetSecurityHeaders(res);
      Finish(*route_metrics[entry_index], ex, Clock::now() - start, /*timed=*/true);
      return;
    }
    (this->*entry.handler)(ex);
  } catch (const std::exception& e) {
    Send(ex, Error{ErrorCode::kInternal, std::string("unexpected error: ") + e.what()});
  }
  SetSecurityHeaders(res);
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
  SetSecurityHeaders(res);
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
                                                      const HttpOptions& options,
                                                      dicom::DicomNode* dicom) {
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
  auto state = std::make_unique<State>(service, registry, options, dicom);
  httplib::Server& server = state->server;
  server.set_payload_max_length(options.max_upload_bytes);
  // Only for the Keep-Alive header httplib writes: ConnectionServer enforces both.
  server.set_keep_alive_max_count(
      static_cast<std::size_t>(options.connections.max_requests_per_connection));
  server.set_keep_alive_timeout(
      std::chrono::ceil<std::chrono::seconds>(options.connections.idle_timeout).count());
  state->Register();

  auto connections = ConnectionServer::Start(state->server, options.host, options.port,
                                             options.threads, options.connections, &registry);
  if (!connections) return std::unexpected(connections.error());
  state->connections = std::move(*connections);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return state_->connections->port(); }

void HttpServer::Stop() { state_->connections->Stop(); }

}  // namespace pneumo::http
