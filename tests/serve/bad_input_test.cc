// Every row of the error table in docs/http-api.md, sent to a real `pneumo serve`: each bad
// request gets its exact status and {"error": {"code", "message"}} (on the original Flask API's
// routes, {"error": "<message>"} with the original's words), nothing bad is stored, and the
// server keeps answering good uploads, alone or with garbage arriving from several threads.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "serve/serve_fixture.h"

namespace pneumo::serve_testing {
namespace {

// The servers here run with a 1 MB upload limit, so that "over the limit" is cheap to send.
const std::vector<std::string> kServerFlags = {"--max-upload-mb", "1"};

// What came back, from httplib or from a raw socket.
struct Answer {
  int status = 0;  // 0: no answer (connection refused, reset, timed out)
  std::string content_type, allow, retry_after, body;
  std::string failure;  // why there is no answer
};

Answer From(const httplib::Result& res) {
  if (!res) return {.failure = httplib::to_string(res.error())};
  return {.status = res->status,
          .content_type = res->get_header_value("Content-Type"),
          .allow = res->get_header_value("Allow"),
          .retry_after = res->get_header_value("Retry-After"),
          .body = res->body};
}

std::string HeaderOf(const std::string& headers, const std::string& name) {
  const std::regex line("\\r\\n" + name + ":[ \\t]*([^\\r]*)", std::regex::icase);
  std::smatch m;
  return std::regex_search(headers, m, line) ? m[1].str() : "";
}

Answer From(const RawResponse& res) {
  if (res.status == 0) return {.failure = "no HTTP answer on the raw socket"};
  return {.status = res.status,
          .content_type = HeaderOf(res.headers, "Content-Type"),
          .allow = HeaderOf(res.headers, "Allow"),
          .retry_after = HeaderOf(res.headers, "Retry-After"),
          .body = res.body};
}

::testing::AssertionResult IsApiError(const Answer& a, int status, const std::string& code) {
  auto describe = [&] {
    return a.status == 0
               ? "no answer (" + a.failure + ")"
               : std::to_string(a.status) + " [" + a.content_type + "] " + a.body.substr(0, 300);
  };
  const json body = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
  if (a.status != status) {
    return ::testing::AssertionFailure()
           << "expected " << status << " " << code << ", got " << describe();
  }
  if (MediaType(a.content_type) != "application/json") {
    return ::testing::AssertionFailure() << "Content-Type is not application/json: " << describe();
  }
  if (!body.is_object() || body.size() != 1 || !body.contains("error") ||
      !body["error"].is_object() || !body["error"].contains("code") ||
      !body["error"].contains("message")) {
    return ::testing::AssertionFailure()
           << "body is not {\"error\": {\"code\", \"message\"}}: " << describe();
  }
  if (body["error"]["code"] != code) {
    return ::testing::AssertionFailure()
           << "code " << body["error"]["code"] << ", expected \"" << code << "\": " << describe();
  }
  if (!body["error"]["message"].is_string() ||
      body["error"]["message"].get<std::string>().empty()) {
    return ::testing::AssertionFailure() << "empty message: " << describe();
  }
  return ::testing::AssertionSuccess();
}

// The original Flask API's error: `status` and {"error": "<message>"}, the message matching the
// regex `message` whole.
::testing::AssertionResult IsCompatError(const Answer& a, int status, const std::string& message) {
  const std::string got = a.status == 0 ? "no answer (" + a.failure + ")"
                                        : std::to_string(a.status) + " [" + a.content_type + "] " +
                                              a.body.substr(0, 300);
  const json body = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
  const bool ok = a.status == status && MediaType(a.content_type) == "application/json" &&
                  body.is_object() && body.size() == 1 && body.contains("error") &&
                  body["error"].is_string() && !body["error"].get<std::string>().empty() &&
                  std::regex_match(body["error"].get<std::string>(), std::regex(message));
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << status << " {\"error\": \"" << message << "\"}, got " << got;
}

std::string Half(const std::string& bytes) { return bytes.substr(0, bytes.size() / 2); }

// A valid PNG with bytes in the middle of its compressed data flipped.
std::string CorruptPng() {
  std::string png = ChestPng(101, 256, 256);
  const auto idat = png.find("IDAT");
  for (std::size_t i = idat + 40; i < idat + 400 && i < png.size() - 20; ++i)
    png[i] = char(~png[i]);
  return png;
}

// A 2 MB body (twice the servers' 1 MB limit) that starts like a PNG.
std::string TwoMegabytes() {
  std::string body = ChestPng(102);
  std::mt19937 rng(5);
  while (body.size() < (2u << 20)) body.push_back(static_cast<char>(rng()));
  return body;
}

// "POST path" with these headers and body, sent over a raw socket exactly as written.
RawResponse RawPost(const PneumoServer& server, const std::string& path, const std::string& headers,
                    const std::string& body) {
  return RawExchange(
      server, "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers +
                  "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

struct BadRequest {
  std::string name;
  int status;
  // The API's error code; on the original Flask API's routes, "compat:" and a regex that the
  // whole message must match ("compat:No file uploaded", "compat:Invalid file type: .+").
  std::string code;
  std::function<Answer(PneumoServer&)> send;
  std::vector<std::string> allow = {};  // for 405: methods the Allow header must list
};

constexpr std::string_view kCompat = "compat:";

::testing::AssertionResult IsDocumentedError(const Answer& a, const BadRequest& bad) {
  if (bad.code.starts_with(kCompat))
    return IsCompatError(a, bad.status, bad.code.substr(kCompat.size()));
  return IsApiError(a, bad.status, bad.code);
}

void PrintTo(const BadRequest& bad, std::ostream* os) { *os << bad.name; }

// "status code" of an error answer, e.g. "415 unsupported_format" (or "400 No file uploaded" in
// the original's shape); what came back otherwise.
std::string StatusAndCode(const Answer& a) {
  const json body = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
  if (a.status == 0) return "no answer (" + a.failure + ")";
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    return std::to_string(a.status) + " " + body["error"].get<std::string>();
  }
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object() ||
      !body["error"].contains("code") || !body["error"]["code"].is_string()) {
    return std::to_string(a.status) + " without an error body: " + a.body.substr(0, 200);
  }
  return std::to_string(a.status) + " " + body["error"]["code"].get<std::string>();
}

std::vector<BadRequest> BadRequests() {
  const std::string kPredictions = "/api/v1/predictions";
  auto multipart = [](std::string path, std::string bytes, std::string filename,
                      std::string field = "file") {
    return [=](PneumoServer& s) {
      auto c = s.Client();
      return From(UploadMultipart(c, path, bytes, filename, field));
    };
  };
  auto raw = [](std::string path, std::string bytes, std::string content_type) {
    return [=](PneumoServer& s) {
      auto c = s.Client();
      return From(UploadRaw(c, path, bytes, content_type));
    };
  };
  auto get = [](std::string path) {
    return [=](PneumoServer& s) {
      auto c = s.Client();
      return From(c.Get(path.c_str()));
    };
  };
  auto request = [](std::string method, std::string path) {
    return [=](PneumoServer& s) {
      return From(RawExchange(s, method + " " + path +
                                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                     "Content-Length: 0\r\n\r\n"));
    };
  };
  const std::string png = ChestPng(100);
  const std::string jpeg = ChestJpeg(100, 320, 320);
  const std::string dicom = Dicom(ChestXray(100, 128, 128));
  const std::string text = "patient notes: not an image at all\n";
  const std::string id = "01JD3F0Q5C2B6W9Y8K7T4R1M0N";
  return {
      // 400 empty_body
      {"EmptyRawPngBody", 400, "empty_body", raw(kPredictions, "", "image/png")},
      {"EmptyRawJpegBody", 400, "empty_body", raw(kPredictions, "", "image/jpeg")},
      {"EmptyMultipartBody", 400, "empty_body",
       [=](PneumoServer& s) {
         return From(
             RawPost(s, kPredictions, "Content-Type: multipart/form-data; boundary=xYzZy\r\n", ""));
       }},
      {"EmptyCompatBody", 400, "compat:No file uploaded",
       [=](PneumoServer& s) {
         return From(
             RawPost(s, "/predict", "Content-Type: multipart/form-data; boundary=xYzZy\r\n", ""));
       }},
      {"CompatBodyWithoutAnyLength", 400, "compat:No file uploaded",
       [=](PneumoServer& s) {
         return From(RawExchange(s,
                                 "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 "Connection: close\r\n\r\n"));
       }},
      {"CompatEmptyFile", 400, "compat:No file uploaded", multipart("/predict", "", "empty.png")},
      // 400 missing_file
      {"MultipartWithTheImageUnderAnotherField", 400, "missing_file",
       multipart(kPredictions, png, "chest.png", "image")},
      {"MultipartWithOnlyATextField", 400, "missing_file",
       [=](PneumoServer& s) {
         auto c = s.Client();
         httplib::MultipartFormDataItems items = {{"comment", "hello", "", ""}};
         return From(c.Post(kPredictions.c_str(), items));
       }},
      // 400 bad_request: thousands of tiny parts cost the server work for nothing
      {"MultipartWithAThousandParts", 400, "bad_request",
       [=](PneumoServer& s) {
         auto c = s.Client();
         httplib::MultipartFormDataItems items(1000, {"note", "x", "", ""});
         items.push_back({"file", png, "chest.png", "image/png"});
         return From(c.Post(kPredictions.c_str(), items));
       }},
      {"CompatMultipartWithoutFile", 400, "compat:No file uploaded",
       multipart("/predict", png, "chest.png", "upload")},
      // 400 "No file selected": a form whose file input was left empty, as a browser sends it
      {"CompatFileWithAnEmptyName", 400, "compat:No file selected",
       [=](PneumoServer& s) {
         const std::string body =
             "--xYzZy\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n\r\n--xYzZy--\r\n";
         return From(
             RawPost(s, "/predict", "Content-Type: multipart/form-data; boundary=xYzZy\r\n", body));
       }},
      {"CompatFileWithoutAName", 400, "compat:No file selected", multipart("/predict", png, "")},
      // 415 unsupported_media_type
      {"TextPlainContentType", 415, "unsupported_media_type", raw(kPredictions, png, "text/plain")},
      {"JsonContentType", 415, "unsupported_media_type",
       raw(kPredictions, R"({"file": "iVBORw0KGgo="})", "application/json")},
      {"OctetStreamContentType", 415, "unsupported_media_type",
       raw(kPredictions, png, "application/octet-stream")},
      {"FormUrlencodedContentType", 415, "unsupported_media_type",
       raw(kPredictions, "file=x", "application/x-www-form-urlencoded")},
      {"NoContentType", 415, "unsupported_media_type",
       [=](PneumoServer& s) { return From(RawPost(s, kPredictions, "", png)); }},
      // the original took forms only: a raw body has no file, whatever its type
      {"CompatRawJpegIsNotAForm", 400, "compat:No file uploaded",
       raw("/predict", jpeg, "text/plain")},
      {"CompatRawPngBody", 400, "compat:No file uploaded", raw("/predict", png, "image/png")},
      // 415 unsupported_format
      {"TextBytesAsRawPng", 415, "unsupported_format", raw(kPredictions, text, "image/png")},
      {"TextBytesInMultipart", 415, "unsupported_format",
       multipart(kPredictions, text, "notes.png")},
      {"PdfBytesAsRawJpeg", 415, "unsupported_format",
       raw(kPredictions, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "image/jpeg")},
      {"GifBytesAsRawPng", 415, "unsupported_format",
       raw(kPredictions, std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 13), "image/png")},
      // the original's 400 "Invalid file type", judged by the bytes, the reason after a colon
      {"CompatTextBytes", 400, "compat:Invalid file type: .+",
       multipart("/predict", text, "notes.jpg")},
      {"CompatGifBytes", 400, "compat:Invalid file type: .+",
       multipart("/predict", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 13), "x.png")},
      {"CompatDicomWithoutPixelData", 400, "compat:Invalid file type: .+",
       multipart("/predict", Dicom(ChestXray(100, 64, 64), /*with_pixels=*/false), "x.dcm")},
      // 422 invalid_image
      {"TruncatedJpeg", 422, "invalid_image", raw(kPredictions, Half(jpeg), "image/jpeg")},
      {"TruncatedJpegInMultipart", 422, "invalid_image",
       multipart(kPredictions, Half(jpeg), "cut.jpeg")},
      {"TruncatedPng", 422, "invalid_image", raw(kPredictions, Half(png), "image/png")},
      {"CorruptPng", 422, "invalid_image", raw(kPredictions, CorruptPng(), "image/png")},
      {"TruncatedDicom", 422, "invalid_image",
       raw(kPredictions, dicom.substr(0, dicom.size() - 5000), "application/dicom")},
      {"DicomWithoutPixelData", 415, "unsupported_format",
       raw(kPredictions, Dicom(ChestXray(100, 64, 64), /*with_pixels=*/false),
           "application/dicom")},
      {"CompatTruncatedJpeg", 422, "compat:.+", multipart("/predict", Half(jpeg), "cut.jpeg")},
      // 413 image_too_large (image bombs: tiny files, huge declared sizes)
      {"PngDeclaring100000x100000", 413, "image_too_large",
       raw(kPredictions, PngDeclaring(100000, 100000), "image/png")},
      {"PngDeclaring20000x8", 413, "image_too_large",
       raw(kPredictions, PngDeclaring(20000, 8), "image/png")},
      {"PngDeclaring12000x12000", 413, "image_too_large",
       multipart(kPredictions, PngDeclaring(12000, 12000), "bomb.png")},
      {"JpegDeclaring60000x60000", 413, "image_too_large",
       raw(kPredictions, JpegDeclaring(60000, 60000), "image/jpeg")},
      {"CompatImageBomb", 413, "compat:.+",
       multipart("/predict", PngDeclaring(100000, 100000), "bomb.png")},
      // 413 payload_too_large (server started with --max-upload-mb 1)
      {"RawBodyOverTheUploadLimit", 413, "payload_too_large",
       raw(kPredictions, TwoMegabytes(), "image/png")},
      {"MultipartOverTheUploadLimit", 413, "payload_too_large",
       multipart(kPredictions, TwoMegabytes(), "huge.png")},
      {"CompatOverTheUploadLimit", 413,
       "compat:the upload is larger than the limit of 1048576 bytes",
       multipart("/predict", TwoMegabytes(), "huge.png")},
      // 404 not_found
      {"UnknownApiRoute", 404, "not_found", get("/api/v1/nothing")},
      {"UnknownTopLevelRoute", 404, "not_found", get("/no/such/page")},
      {"UnknownApiVersion", 404, "not_found", raw("/api/v2/predictions", png, "image/png")},
      {"UnknownPredictionId", 404, "not_found", get(kPredictions + "/" + id)},
      {"UnknownPredictionImage", 404, "not_found", get(kPredictions + "/" + id + "/image")},
      {"UnknownStaticAsset", 404, "not_found", get("/static/no-such-file.js")},
      {"StaticPathTraversal", 404, "not_found", request("GET", "/static/../../CMakeLists.txt")},
      {"StaticEncodedPathTraversal", 404, "not_found",
       request("GET", "/static/%2e%2e/%2e%2e/CMakeLists.txt")},
      // 405 method_not_allowed, with Allow
      {"DeletePredictions",
       405,
       "method_not_allowed",
       request("DELETE", kPredictions),
       {"GET", "POST"}},
      {"PutPredictions", 405, "method_not_allowed", request("PUT", kPredictions), {"GET", "POST"}},
      // 404: deleting (an admin's right) a prediction that is not there
      {"DeleteAnUnknownPrediction", 404, "not_found", request("DELETE", kPredictions + "/" + id)},
      {"PutOnePrediction",
       405,
       "method_not_allowed",
       request("PUT", kPredictions + "/" + id),
       {"GET", "DELETE"}},
      {"PostToOnePrediction",
       405,
       "method_not_allowed",
       request("POST", kPredictions + "/" + id),
       {"GET", "DELETE"}},
      {"PostToHealthz", 405, "method_not_allowed", request("POST", "/healthz"), {"GET"}},
      {"PostToModel", 405, "method_not_allowed", request("POST", "/api/v1/model"), {"GET"}},
      {"GetCompatPredict", 405, "compat:.+", get("/predict"), {"POST"}},
      {"PostCompatPredictions", 405, "compat:.+", request("POST", "/predictions"), {"GET"}},
      {"DeleteCompatHealth", 405, "compat:.+", request("DELETE", "/health"), {"GET"}},
      {"PatchMetrics", 405, "method_not_allowed", request("PATCH", "/metrics"), {"GET"}},
      // 400 invalid_paging
      {"PageZero", 400, "invalid_paging", get(kPredictions + "?page=0")},
      {"PageNegative", 400, "invalid_paging", get(kPredictions + "?page=-1")},
      {"PageNotANumber", 400, "invalid_paging", get(kPredictions + "?page=abc")},
      {"PageFraction", 400, "invalid_paging", get(kPredictions + "?page=1.5")},
      {"PageEmpty", 400, "invalid_paging", get(kPredictions + "?page=")},
      {"PerPageZero", 400, "invalid_paging", get(kPredictions + "?per_page=0")},
      {"PerPage101", 400, "invalid_paging", get(kPredictions + "?per_page=101")},
      {"PerPage1000", 400, "invalid_paging", get(kPredictions + "?per_page=1000")},
      {"PerPageHuge", 400, "invalid_paging", get(kPredictions + "?per_page=99999999999999999999")},
      {"PerPageNotANumber", 400, "invalid_paging", get(kPredictions + "?page=1&per_page=ten")},
      // 400 on GET /predictions (a page that is not a number is page 1, as in the original; a
      // page past the end needs a history: tests/serve/http_api_test.cc)
      {"CompatPageZero", 400, "compat:Page must be >= 1", get("/predictions?page=0")},
      {"CompatPageNegative", 400, "compat:Page must be >= 1", get("/predictions?page=-4")},
  };
}

// Each bad request alone, on one server shared by the suite (when the cases run in one
// process; ctest runs each in its own, with its own server).
class BadInputTest : public ::testing::TestWithParam<BadRequest> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new PneumoServer("sqlite:" + (dir_->path() / "results.db").string(), kServerFlags);
    start_problem_ = server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override { ASSERT_EQ(start_problem_, "") << start_problem_; }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log:\n" << server_->LogTail(3000) << "\n";
  }

  static TempDir* dir_;
  static PneumoServer* server_;
  static std::string start_problem_;
};
TempDir* BadInputTest::dir_ = nullptr;
PneumoServer* BadInputTest::server_ = nullptr;
std::string BadInputTest::start_problem_;

TEST_P(BadInputTest, IsRefusedWithTheDocumentedStatusAndCode) {
  const BadRequest& bad = GetParam();
  const Answer answer = bad.send(*server_);
  EXPECT_TRUE(IsDocumentedError(answer, bad));
  for (const auto& method : bad.allow) {
    EXPECT_NE(answer.allow.find(method), std::string::npos)
        << "Allow: \"" << answer.allow << "\" does not list " << method;
  }
  auto client = server_->Client();
  auto health = client.Get("/healthz");
  EXPECT_TRUE(health && health->status == 200) << "the server is down: " << Describe(health);
  EXPECT_EQ(Total(client), 0) << "a bad request was stored";
}

INSTANTIATE_TEST_SUITE_P(ErrorTable, BadInputTest, ::testing::ValuesIn(BadRequests()),
                         [](const ::testing::TestParamInfo<BadRequest>& info) {
                           return info.param.name;
                         });

// A good upload: 201 and its sha256, or "" (with a failure recorded in `problems`).
std::string UploadGood(PneumoServer& server, unsigned seed, std::vector<std::string>& problems) {
  auto client = server.Client();
  const std::string png = ChestPng(seed, 160, 160);
  auto res = seed % 2 ? UploadMultipart(client, "/api/v1/predictions", png, "good.png")
                      : UploadRaw(client, "/api/v1/predictions", png, "image/png");
  if (!res || res->status != 201) {
    problems.push_back("good upload " + std::to_string(seed) + ": " + Describe(res));
    return "";
  }
  return Json(res).value("sha256", "");
}

TEST(BadInputSurvival, AfterEveryBadRequestTheServerStillPredictsAndStoredOnlyGoodUploads) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), kServerFlags);
  const std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  std::vector<std::string> problems;
  std::multiset<std::string> good;
  unsigned seed = 1000;
  // Whether each answer is the documented one is ErrorTable's business; here every bad request
  // must be refused with an error body, and the server must carry on.
  for (const BadRequest& bad : BadRequests()) {
    const Answer answer = bad.send(server);
    EXPECT_TRUE(answer.status >= 400 && answer.status < 500 && StatusAndCode(answer).find(' ') == 3)
        << bad.name << ": " << StatusAndCode(answer);
    if (const std::string sha = UploadGood(server, ++seed, problems); !sha.empty())
      good.insert(sha);
  }
  EXPECT_EQ(problems, std::vector<std::string>());
  auto client = server.Client();
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health && health->status == 200) << Describe(health);
  if (const std::string sha = UploadGood(server, ++seed, problems); !sha.empty()) good.insert(sha);
  ASSERT_EQ(problems, std::vector<std::string>());

  const std::vector<json> stored = ListAll(client);
  EXPECT_EQ(Total(client), static_cast<std::int64_t>(good.size()));
  std::multiset<std::string> stored_sha;
  for (const auto& p : stored) stored_sha.insert(p.value("sha256", ""));
  EXPECT_EQ(stored_sha, good) << "the history is not exactly the good uploads";
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail(3000) << "\n";
}

// The 503 rows of the table that need load: a full queue (busy) and a missed deadline (timeout).
// Both say when to retry, and neither leaves anything in the history.
TEST(Overload, AFullQueueIs503BusyWithRetryAfterAndNothingStored) {
  TempDir dir;
  PneumoServer server(
      "sqlite:" + (dir.path() / "results.db").string(),
      {"--max-queue", "1", "--max-batch", "1", "--max-wait-ms", "0", "--threads", "1"});
  const std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  constexpr int kThreads = 16;
  constexpr int kUploads = 4;
  std::mutex mu;
  int created = 0, busy = 0;          // guarded by mu
  std::vector<std::string> problems;  // guarded by mu
  std::vector<std::thread> threads;
  const std::string png = ChestPng(77, 96, 96);  // small: decoding is quick, the queue is the limit
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto client = server.Client();
      for (int i = 0; i < kUploads; ++i) {
        auto res = UploadRaw(client, "/api/v1/predictions", png, "image/png");
        std::lock_guard lock(mu);
        if (res && res->status == 201) {
          ++created;
        } else if (auto ok = IsApiError(From(res), 503, "busy"); ok) {
          ++busy;
          if (res->get_header_value("Retry-After") != "1")
            problems.push_back("busy without Retry-After: 1");
        } else {
          problems.push_back(ok.message());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(problems, std::vector<std::string>());
  EXPECT_GT(busy, 0) << kThreads << " clients against a queue of 1 were never told busy ("
                     << created << " created)";
  auto client = server.Client();
  EXPECT_EQ(Total(client), created) << "a busy upload was stored";
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail(3000) << "\n";
}

TEST(Overload, ARequestNotComputedInTimeIs503TimeoutWithRetryAfterAndNothingStored) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(),
                      {"--request-timeout-ms", "1"});
  const std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  auto client = server.Client();
  for (unsigned seed = 0; seed < 3; ++seed) {
    auto res = UploadRaw(client, "/api/v1/predictions", ChestPng(seed, 1024, 1024), "image/png");
    EXPECT_TRUE(IsApiError(From(res), 503, "timeout"));
    if (res) {
      EXPECT_EQ(res->get_header_value("Retry-After"), "1");
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let late work finish
  EXPECT_EQ(Total(client), 0) << "an upload answered 503 timeout was stored";
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail(3000) << "\n";
}

// "POST path" with a chunked body (Transfer-Encoding: chunked, 64 KB chunks), over a raw socket.
RawResponse ChunkedPost(const PneumoServer& server, const std::string& path,
                        const std::string& content_type, const std::string& body) {
  std::ostringstream request;
  request << "POST " << path << " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
          << "Content-Type: " << content_type << "\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 65536) {
    const std::string chunk = body.substr(at, 65536);
    request << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
  }
  request << "0\r\n\r\n";
  return RawExchange(server, request.str());
}

// --max-upload-mb counts mebibytes of body, as the contract's example (25 -> 26214400) does;
// the limit holds for chunked bodies too, which announce no length.
TEST(BadInputSurvival, TheUploadLimitIsExactAndHoldsForChunkedBodies) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), kServerFlags);
  const std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  auto client = server.Client();
  std::string at_limit = ChestPng(200);
  at_limit.resize(1u << 20, '\0');  // padding after IEND: decoders ignore it
  std::string over_limit = at_limit + '\0';
  int created = 0;
  auto res = UploadRaw(client, "/api/v1/predictions", at_limit, "image/png");
  ASSERT_TRUE(res) << Describe(res);
  EXPECT_NE(res->status, 413) << "a body of exactly --max-upload-mb 1 (1048576 bytes): "
                              << Describe(res);
  created += res->status == 201;
  EXPECT_TRUE(IsApiError(From(UploadRaw(client, "/api/v1/predictions", over_limit, "image/png")),
                         413, "payload_too_large"))
      << "1048577 bytes";

  const RawResponse chunked_ok =
      ChunkedPost(server, "/api/v1/predictions", "image/png", ChestPng(201));
  EXPECT_EQ(chunked_ok.status, 201) << chunked_ok.headers << "\n" << chunked_ok.body;
  created += chunked_ok.status == 201;
  EXPECT_TRUE(
      IsApiError(From(ChunkedPost(server, "/api/v1/predictions", "image/png", TwoMegabytes())), 413,
                 "payload_too_large"))
      << "a chunked 2 MB body";
  EXPECT_EQ(Total(client), created) << "an upload over the limit was stored";
  auto health = client.Get("/healthz");
  EXPECT_TRUE(health && health->status == 200) << Describe(health);
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail(3000) << "\n";
}

TEST(BadInputSurvival, PagingNumbersTooBigForAnIntAreNotACrash) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), kServerFlags);
  const std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  auto client = server.Client();
  for (const char* path :
       {"/api/v1/predictions?page=99999999999999999999", "/api/v1/predictions?page=2147483648",
        "/predictions?page=99999999999999999999", "/predictions?page=-99999999999999999999"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path << ": " << Describe(res);
    // Either refused as invalid paging, or a page past the end: never a 500 or a crash.
    if (res->status != 200 && std::string_view(path).starts_with("/api/")) {
      EXPECT_TRUE(IsApiError(From(res), 400, "invalid_paging")) << path;
    } else if (res->status != 200) {
      EXPECT_TRUE(IsCompatError(From(res), 400, "Page must be >= 1|Page out of range")) << path;
    }
  }
  auto health = client.Get("/healthz");
  EXPECT_TRUE(health && health->status == 200) << Describe(health);
}

TEST(BadInputSurvival, GarbageAndGoodUploadsFromSeveralThreadsAreAnsweredAsWhenAlone) {
  TempDir dir;
  PneumoServer server("sqlite:" + (dir.path() / "results.db").string(), kServerFlags);
  const std::string problem = server.Start();
  ASSERT_EQ(problem, "") << problem;
  const std::vector<BadRequest> bad = BadRequests();
  // Each bad request alone first: under load it must be answered the same way.
  std::vector<std::string> alone;
  for (const BadRequest& b : bad) alone.push_back(StatusAndCode(b.send(server)));
  constexpr int kThreads = 4;
  constexpr int kRounds = 15;
  std::mutex mu;
  std::vector<std::string> problems;  // guarded by mu
  std::multiset<std::string> good;    // guarded by mu
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> mine;
      std::multiset<std::string> my_good;
      for (int round = 0; round < kRounds; ++round) {
        const std::size_t which = (t * 7 + round * 5) % bad.size();
        if (const std::string got = StatusAndCode(bad[which].send(server)); got != alone[which]) {
          mine.push_back(bad[which].name + ": " + got + " under load, " + alone[which] + " alone");
        }
        const unsigned seed = 5000 + static_cast<unsigned>(t * 100 + round);
        if (const std::string sha = UploadGood(server, seed, mine); !sha.empty())
          my_good.insert(sha);
      }
      std::lock_guard lock(mu);
      problems.insert(problems.end(), mine.begin(), mine.end());
      good.insert(my_good.begin(), my_good.end());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(problems, std::vector<std::string>());
  EXPECT_EQ(good.size(), static_cast<std::size_t>(kThreads * kRounds));

  auto client = server.Client();
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health && health->status == 200) << Describe(health);
  std::multiset<std::string> stored_sha;
  for (const auto& p : ListAll(client)) stored_sha.insert(p.value("sha256", ""));
  EXPECT_EQ(stored_sha, good) << "the history is not exactly the good uploads";
  if (HasFailure()) std::cerr << "server log:\n" << server.LogTail(3000) << "\n";
}

}  // namespace
}  // namespace pneumo::serve_testing
