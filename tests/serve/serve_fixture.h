// Shared by the black-box tests of `pneumo serve`: a real server process on a free port, test
// images (synthetic chest X-rays as PNG, JPEG and DICOM, image bombs), raw HTTP for requests that
// httplib will not send, and assertions on the JSON error bodies (the API's and the original
// Flask API's).
//
//   PneumoServer server("sqlite:" + (dir / "results.db").string(), {"--max-upload-mb", "1"});
//   ASSERT_EQ(server.Start(), "");                   // waits for GET /readyz 200
//   auto client = server.Client();
//   auto res = UploadMultipart(client, "/api/v1/predictions", ChestPng(1), "chest.png");
//   EXPECT_TRUE(IsApiError(res, 413, "payload_too_large"));
//   EXPECT_TRUE(IsCompatError(UploadMultipart(client, "/predict", "", "x.png"), 400, "No file
//   uploaded")); server.Kill();                                   // SIGKILL, as a crash would
//   ASSERT_EQ(server.Start(), "");                   // same store, same flags
//
// Accounts are on, as in production: unless the flags say --accounts (the test makes its own
// users) or --no-accounts, Start() first creates the admin `pneumo-test` and an API token for it
// with the CLI, against the server's store, and Client() and RawExchange(server, ...) send it.
// AnonymousClient() sends nothing.
//
// The binary is PNEUMO_BINARY (the build's pneumo) unless the environment variable
// PNEUMO_BINARY_OVERRIDE names another, for running these tests from a build directory that
// does not build pneumo itself. Nothing here is thread-safe except the free functions and
// httplib clients used one per thread.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/process.h"
#include "testing/synthetic_xrays.h"
#include "testing/temp_dir.h"

namespace pneumo::serve_testing {

namespace fs = std::filesystem;
using nlohmann::json;
using pneumo::testing::TempDir;

// ---------------------------------------------------------------------------------------------
// The binary and the model

inline std::string PneumoBinary() {
  const char* override_path = std::getenv("PNEUMO_BINARY_OVERRIDE");
  return override_path != nullptr && *override_path != '\0' ? override_path : PNEUMO_BINARY;
}

inline fs::path ShippedModelDir() { return fs::path(PNEUMO_SOURCE_DIR) / "models" / "default"; }

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `pneumo ARGS` (each argument single-quoted for the shell); returns the last line of stdout,
// or "" on failure. *exit_code, when given, gets the exit status.
inline std::string RunPneumoCli(const std::vector<std::string>& args, int* exit_code = nullptr) {
  std::string command = "'" + PneumoBinary() + "'";
  for (const std::string& arg : args) command += " '" + arg + "'";
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  const auto nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

// ---------------------------------------------------------------------------------------------
// The server process

// Every file name a test uploaded (UploadMultipart, UploadRaw's ?filename=). Health data stays
// out of the logs: each PneumoServer checks, when it stops for good, that its log names none.
class UploadedNames {
 public:
  static void Add(const std::string& name) {
    // Short generic names ("x.png") could match unrelated text; the tests' names are longer.
    if (name.size() < 6) return;
    std::lock_guard lock(Mu());
    Names().insert(name);
  }
  // The uploaded names that occur in `log`.
  static std::vector<std::string> FoundIn(const std::string& log) {
    std::lock_guard lock(Mu());
    std::vector<std::string> found;
    for (const std::string& name : Names())
      if (log.find(name) != std::string::npos) found.push_back(name);
    return found;
  }

 private:
  static std::mutex& Mu() {
    static std::mutex mu;
    return mu;
  }
  static std::set<std::string>& Names() {
    static std::set<std::string> names;
    return names;
  }
};

// `pneumo serve` on 127.0.0.1 and a free port, logging to a file in its own temporary directory
// (shown by LogTail() when something fails). Start() may be called again after Stop() or Kill():
// the store URL and flags stay, the port is chosen afresh.
class PneumoServer {
 public:
  explicit PneumoServer(std::string store_url, std::vector<std::string> flags = {})
      : store_url_(std::move(store_url)), flags_(std::move(flags)) {}
  ~PneumoServer() {
    Stop();
    const auto named = UploadedNames::FoundIn(ReadFile(log_path()));
    EXPECT_TRUE(named.empty()) << "the server's log names uploaded files (health data): "
                               << ::testing::PrintToString(named) << "\n"
                               << LogTail();
  }
  PneumoServer(const PneumoServer&) = delete;
  PneumoServer& operator=(const PneumoServer&) = delete;

  // Starts the server and waits up to `deadline` for GET /readyz to answer 200.
  // Returns "" when ready, else what went wrong (with the end of the server's log).
  std::string Start(std::chrono::seconds deadline = std::chrono::seconds(90)) {
    if (::access(PneumoBinary().c_str(), X_OK) != 0) {
      return PneumoBinary() +
             " is not an executable: build pneumo, or point "
             "PNEUMO_BINARY_OVERRIDE at one";
    }
    Stop();
    if (const std::string problem = EnsureAdminToken(); !problem.empty()) return problem;
    port_ = pneumo::testing::FreePort();
    ++starts_;
    const fs::path pid_file = dir_ / ("server-" + std::to_string(starts_) + ".pid");
    // The shell records its pid, then exec()s pneumo in its place: the pid is the server's, so
    // Kill() can SIGKILL exactly it, and stdout/stderr land in the log file.
    std::vector<std::string> argv;
    // If this test process dies without its destructors (a crash, a kill), the kernel kills the
    // server too instead of leaving it running: setpriv (util-linux) sets the parent-death
    // signal, which survives the exec()s below.
    if (::access(kSetpriv, X_OK) == 0) argv = {kSetpriv, "--pdeathsig", "KILL"};
    const std::vector<std::string> command = {
        "/bin/sh",
        "-c",
        "echo $$ > '" + pid_file.string() + "'; exec \"$0\" \"$@\" >> '" + log_path().string() +
            "' 2>&1",
        PneumoBinary(),
        "serve",
        "--listen",
        "127.0.0.1:" + std::to_string(port_),
        "--store",
        store_url_,
        "--model",
        (model_.empty() ? ShippedModelDir() : model_).string(),
        "--data-dir",
        (dir_ / "data").string()};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    {
      std::ofstream(log_path(), std::ios::app)
          << "\n=== start " << starts_ << ": pneumo serve on port " << port_ << " ===\n";
    }
    process_ = std::make_unique<pneumo::testing::ChildProcess>(argv, /*quiet=*/true);
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (pid_ <= 0) pid_ = ReadPid(pid_file);
      if (pid_ > 0 && Exited(pid_)) {
        Stop();
        return "pneumo serve exited during start-up; its log:\n" + LogTail();
      }
      if (pid_ > 0) {
        httplib::Client client("127.0.0.1", port_);
        client.set_connection_timeout(std::chrono::seconds(1));
        client.set_read_timeout(std::chrono::seconds(5));
        if (auto res = client.Get("/readyz"); res && res->status == 200) return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop();
    return "pneumo serve was not ready (GET /readyz 200) within " +
           std::to_string(deadline.count()) + " s; its log:\n" + LogTail();
  }

  // SIGTERM, then SIGKILL after 5 s (ChildProcess). Idempotent.
  void Stop() {
    process_.reset();
    pid_ = -1;
  }

  // SIGKILL: the server gets no chance to flush or say goodbye.
  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    process_.reset();  // reaps the process
    pid_ = -1;
  }

  // Serve this model directory (or symlink) from the next Start() on, instead of the shipped one.
  void UseModel(fs::path model) { model_ = std::move(model); }
  // Sends a signal to the running server (SIGHUP: reload the model).
  void Signal(int signal_number) {
    if (pid_ > 0) ::kill(pid_, signal_number);
  }

  bool has_process() const { return pid_ > 0 && !Exited(pid_); }
  int port() const { return port_; }
  const std::string& store_url() const { return store_url_; }

  // A client that sends the fixture admin's token (when the fixture made one).
  httplib::Client Client(std::chrono::seconds read_timeout = std::chrono::seconds(60)) const {
    httplib::Client client = AnonymousClient(read_timeout);
    if (!token_.empty()) client.set_bearer_token_auth(token_);
    return client;
  }
  // A client without credentials.
  httplib::Client AnonymousClient(
      std::chrono::seconds read_timeout = std::chrono::seconds(60)) const {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(read_timeout);
    client.set_write_timeout(std::chrono::seconds(30));
    return client;
  }
  // "Authorization: Bearer ...\r\n" for the fixture admin, or "" when the fixture made no token.
  std::string AuthorizationHeader() const {
    return token_.empty() ? "" : "Authorization: Bearer " + token_ + "\r\n";
  }
  const std::string& token() const { return token_; }
  static constexpr char kAdmin[] = "pneumo-test";

  // The last `bytes` of everything the server printed, across all its starts.
  std::string LogTail(std::size_t bytes = 6000) const {
    const std::string log = ReadFile(log_path());
    return log.size() <= bytes ? log : "..." + log.substr(log.size() - bytes);
  }

 private:
  static constexpr char kSetpriv[] = "/usr/bin/setpriv";

  fs::path log_path() const { return dir_ / "server.log"; }

  bool HasFlag(const std::string& flag) const {
    return std::find(flags_.begin(), flags_.end(), flag) != flags_.end();
  }

  // The fixture admin and its token, made once per fixture (the store keeps them across starts).
  std::string EnsureAdminToken() {
    if (!token_.empty() || HasFlag("--accounts") || HasFlag("--no-accounts")) return "";
    int code = -1;
    RunPneumoCli({"user", "add", kAdmin, "--role", "admin", "--store", store_url_}, &code);
    token_ = RunPneumoCli({"token", "create", kAdmin, "--store", store_url_}, &code);
    if (code != 0 || !token_.starts_with("pnm_")) {
      token_.clear();
      return "could not make the fixture's admin token with `pneumo token create` (exit " +
             std::to_string(code) + ") against " + store_url_;
    }
    return "";
  }

  static pid_t ReadPid(const fs::path& file) {
    std::ifstream in(file);
    pid_t pid = -1;
    return (in >> pid) ? pid : -1;
  }
  // True once the process is gone or a zombie (our child that has not been reaped yet).
  static bool Exited(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return true;
    const auto paren = text.rfind(')');
    return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] == 'Z' ||
           text[paren + 2] == 'X';
  }

  TempDir dir_;
  std::string store_url_;
  std::vector<std::string> flags_;
  fs::path model_;
  std::unique_ptr<pneumo::testing::ChildProcess> process_;
  pid_t pid_ = -1;
  int port_ = 0;
  int starts_ = 0;
  std::string token_;  // the fixture admin's API token; "" with --accounts or --no-accounts
};

// ---------------------------------------------------------------------------------------------
// Test images

// A synthetic chest X-ray (8-bit grayscale), different for every seed; odd seeds get opacities.
inline cv::Mat ChestXray(unsigned seed, int width = 320, int height = 320) {
  std::mt19937 rng(seed);
  cv::Mat square = pneumo::testing::SyntheticXray(seed % 2 == 1, rng, std::max(width, height));
  return width == height ? square : square(cv::Rect(0, 0, width, height)).clone();
}

inline std::string Encode(const std::string& ext, const cv::Mat& image,
                          const std::vector<int>& params = {}) {
  std::vector<std::uint8_t> bytes;
  if (!cv::imencode(ext, image, bytes, params)) ADD_FAILURE() << "cv::imencode failed for " << ext;
  return std::string(bytes.begin(), bytes.end());
}

inline std::string ChestPng(unsigned seed, int width = 320, int height = 320) {
  return Encode(".png", ChestXray(seed, width, height));
}
inline std::string ChestJpeg(unsigned seed, int width = 320, int height = 320) {
  return Encode(".jpg", ChestXray(seed, width, height), {cv::IMWRITE_JPEG_QUALITY, 92});
}

// A minimal DICOM Part 10 file (explicit VR little endian, 8-bit MONOCHROME2, Secondary
// Capture) holding `gray` (CV_8UC1, even number of pixels); without pixel data when
// `with_pixels` is false (a DICOM that is not an image).
inline std::string Dicom(const cv::Mat& gray, bool with_pixels = true) {
  auto u16 = [](std::uint16_t v) { return std::string{char(v & 0xff), char(v >> 8)}; };
  auto u32 = [](std::uint32_t v) {
    return std::string{char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff),
                       char(v >> 24)};
  };
  auto element = [&](std::uint16_t group, std::uint16_t elem, const std::string& vr,
                     std::string value) {
    if (value.size() % 2 == 1) value.push_back(vr == "UI" || vr == "OB" ? '\0' : ' ');
    std::string out = u16(group) + u16(elem) + vr;
    if (vr == "OB" || vr == "OW" || vr == "UN" || vr == "SQ" || vr == "UT") {
      out += std::string(2, '\0') + u32(static_cast<std::uint32_t>(value.size()));
    } else {
      out += u16(static_cast<std::uint16_t>(value.size()));
    }
    return out + value;
  };
  const std::string sop_class = "1.2.840.10008.5.1.4.1.1.7";  // Secondary Capture Image Storage
  const std::string sop_instance = "1.2.826.0.1.3680043.9.7777.1.1";
  std::string meta = element(0x0002, 0x0001, "OB", std::string{'\0', '\1'}) +
                     element(0x0002, 0x0002, "UI", sop_class) +
                     element(0x0002, 0x0003, "UI", sop_instance) +
                     element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1") +
                     element(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.9.7777.1");
  meta = element(0x0002, 0x0000, "UL", u32(static_cast<std::uint32_t>(meta.size()))) + meta;
  std::string data =
      element(0x0008, 0x0016, "UI", sop_class) + element(0x0008, 0x0018, "UI", sop_instance) +
      element(0x0008, 0x0060, "CS", "OT") +
      element(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.9.7777") +
      element(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.9.7777.1") +
      element(0x0028, 0x0002, "US", u16(1)) + element(0x0028, 0x0004, "CS", "MONOCHROME2") +
      element(0x0028, 0x0010, "US", u16(static_cast<std::uint16_t>(gray.rows))) +
      element(0x0028, 0x0011, "US", u16(static_cast<std::uint16_t>(gray.cols))) +
      element(0x0028, 0x0100, "US", u16(8)) + element(0x0028, 0x0101, "US", u16(8)) +
      element(0x0028, 0x0102, "US", u16(7)) + element(0x0028, 0x0103, "US", u16(0));
  if (with_pixels) {
    const cv::Mat pixels = gray.isContinuous() ? gray : gray.clone();
    data += element(0x7FE0, 0x0010, "OB",
                    std::string(reinterpret_cast<const char*>(pixels.data), pixels.total()));
  }
  return std::string(128, '\0') + "DICM" + meta + data;
}

inline std::uint32_t Crc32(const std::string& bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

inline std::string BigEndian32(std::uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

inline std::string PngChunk(const std::string& type, const std::string& data) {
  return BigEndian32(static_cast<std::uint32_t>(data.size())) + type + data +
         BigEndian32(Crc32(type + data));
}

// A well-formed, tiny PNG whose IHDR (correct CRC) declares width x height 8-bit grayscale: an
// image bomb when the sides are large. Its IDAT is an empty zlib stream.
inline std::string PngDeclaring(std::uint32_t width, std::uint32_t height) {
  const std::string ihdr = BigEndian32(width) + BigEndian32(height) + std::string{8, 0, 0, 0, 0};
  const std::string empty_zlib = {0x78, char(0x9c), 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) +
         PngChunk("IDAT", empty_zlib) + PngChunk("IEND", "");
}

// A real small JPEG whose frame header (SOF0) is patched to declare width x height.
inline std::string JpegDeclaring(std::uint16_t width, std::uint16_t height) {
  std::string jpeg = Encode(".jpg", ChestXray(7, 64, 64));
  const auto sof = jpeg.find("\xff\xc0");
  if (sof == std::string::npos) {
    ADD_FAILURE() << "no SOF0 in OpenCV's JPEG";
    return jpeg;
  }
  // FF C0, length (2), precision (1), height (2), width (2)
  jpeg[sof + 5] = char(height >> 8);
  jpeg[sof + 6] = char(height & 0xff);
  jpeg[sof + 7] = char(width >> 8);
  jpeg[sof + 8] = char(width & 0xff);
  return jpeg;
}

inline bool HasPngSignature(const std::string& bytes) {
  return bytes.size() >= 8 && bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0;
}

inline cv::Mat DecodePng(const std::string& bytes) {
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  return data.empty() ? cv::Mat() : cv::imdecode(data, cv::IMREAD_UNCHANGED);
}

// ---------------------------------------------------------------------------------------------
// Requests

inline httplib::Result UploadMultipart(
    httplib::Client& client, const std::string& path, const std::string& bytes,
    const std::string& filename, const std::string& field = "file",
    const std::string& content_type = "application/octet-stream") {
  UploadedNames::Add(filename);
  httplib::MultipartFormDataItems items = {{field, bytes, filename, content_type}};
  return client.Post(path.c_str(), items);
}

inline httplib::Result UploadRaw(httplib::Client& client, const std::string& path,
                                 const std::string& bytes, const std::string& content_type) {
  if (const auto at = path.find("filename="); at != std::string::npos)
    UploadedNames::Add(path.substr(at + 9, path.find('&', at) - at - 9));
  return client.Post(path.c_str(), bytes, content_type.c_str());
}

// The response body as JSON; a discarded value when it is not JSON.
inline json Json(const httplib::Result& res) {
  if (!res) return json(json::value_t::discarded);
  return json::parse(res->body, nullptr, /*allow_exceptions=*/false);
}

// The media type of a Content-Type header: lower case, without parameters.
inline std::string MediaType(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

inline std::string Describe(const httplib::Result& res) {
  if (!res) return "no response (" + httplib::to_string(res.error()) + ")";
  std::string body = res->body.size() > 400 ? res->body.substr(0, 400) + "..." : res->body;
  return std::to_string(res->status) + " " + res->get_header_value("Content-Type") + " " + body;
}

// Success when `res` has `status`, Content-Type application/json and the body
// {"error": {"code": code, "message": "<not empty>"}}.
inline ::testing::AssertionResult IsApiError(const httplib::Result& res, int status,
                                             const std::string& code) {
  if (!res) return ::testing::AssertionFailure() << Describe(res);
  const json body = Json(res);
  const bool ok = res->status == status &&
                  MediaType(res->get_header_value("Content-Type")) == "application/json" &&
                  body.is_object() && body.size() == 1 && body.contains("error") &&
                  body["error"].is_object() && body["error"].value("code", "") == code &&
                  body["error"].contains("message") && body["error"]["message"].is_string() &&
                  !body["error"]["message"].get<std::string>().empty();
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << status << " {\"error\": {\"code\": \""
                                       << code << "\", \"message\": ...}}, got " << Describe(res);
}

// Success when `res` has `status`, Content-Type application/json and the original Flask API's
// error body {"error": "<message>"} with a message that `message` (a regex) matches whole.
inline ::testing::AssertionResult IsCompatError(const httplib::Result& res, int status,
                                                const std::string& message = ".+") {
  if (!res) return ::testing::AssertionFailure() << Describe(res);
  const json body = Json(res);
  const bool ok = res->status == status &&
                  MediaType(res->get_header_value("Content-Type")) == "application/json" &&
                  body.is_object() && body.size() == 1 && body.contains("error") &&
                  body["error"].is_string() && !body["error"].get<std::string>().empty() &&
                  std::regex_match(body["error"].get<std::string>(), std::regex(message));
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << status << " {\"error\": \"" << message << "\"}, got " << Describe(res);
}

// One HTTP/1.1 exchange over a plain socket, for requests httplib cannot be made to send (no
// Content-Type at all, a declared length that differs from the body...). `request` is sent as
// is; the connection is closed by the server after the answer ("Connection: close").
struct RawResponse {
  int status = 0;  // 0 when no status line came back
  std::string headers;
  std::string body;
};

// The default wait outlasts the server's 30 s read timeout, for requests that leave it waiting.
inline RawResponse RawExchange(int port, const std::string& request,
                               std::chrono::seconds timeout = std::chrono::seconds(45)) {
  RawResponse out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  timeval tv{.tv_sec = static_cast<time_t>(timeout.count()), .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto end_of_headers = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || end_of_headers == std::string::npos) return out;
  out.status = std::atoi(answer.c_str() + answer.find(' ') + 1);
  out.headers = answer.substr(0, end_of_headers);
  out.body = answer.substr(end_of_headers + 4);
  return out;
}

// The same, with the fixture admin's Authorization header added after the request line.
inline RawResponse RawExchange(const PneumoServer& server, std::string request,
                               std::chrono::seconds timeout = std::chrono::seconds(45)) {
  if (const auto line_end = request.find("\r\n"); line_end != std::string::npos)
    request.insert(line_end + 2, server.AuthorizationHeader());
  return RawExchange(server.port(), request, timeout);
}

inline ::testing::AssertionResult IsApiError(const RawResponse& res, int status,
                                             const std::string& code) {
  const json body = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  static const std::regex kJsonType(R"(\r\nContent-Type:\s*application/json)", std::regex::icase);
  const bool ok = res.status == status && std::regex_search(res.headers, kJsonType) &&
                  body.is_object() && body.contains("error") && body["error"].is_object() &&
                  body["error"].value("code", "") == code &&
                  !body["error"].value("message", "").empty();
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << status << " " << code << ", got:\n"
                                       << res.headers << "\n\n"
                                       << res.body.substr(0, 400);
}

inline ::testing::AssertionResult IsCompatError(const RawResponse& res, int status,
                                                const std::string& message = ".+") {
  const json body = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  static const std::regex kJsonType(R"(\r\nContent-Type:\s*application/json)", std::regex::icase);
  const bool ok = res.status == status && std::regex_search(res.headers, kJsonType) &&
                  body.is_object() && body.size() == 1 && body.contains("error") &&
                  body["error"].is_string() && !body["error"].get<std::string>().empty() &&
                  std::regex_match(body["error"].get<std::string>(), std::regex(message));
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << status << " {\"error\": \"" << message << "\"}, got:\n"
         << res.headers << "\n\n"
         << res.body.substr(0, 400);
}

// ---------------------------------------------------------------------------------------------
// Reading answers

inline bool IsIsoUtcMillis(const std::string& text) {
  static const std::regex kIso(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  return std::regex_match(text, kIso);
}

// The original Flask API's times: local, "2026-12-01 18:09:05.457913".
inline bool IsLocalTimestamp(const std::string& text) {
  static const std::regex kLocal(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$)");
  return std::regex_match(text, kLocal);
}

// "2026-11-26T15:02:11.532Z" (created_at) as this process's local time in the original API's
// format ("2026-11-26 16:02:11.532000" in Paris): the server runs in the same time zone.
inline std::string LocalTimeOf(const std::string& iso_utc_millis) {
  std::tm utc{};
  int millis = 0;
  if (std::sscanf(iso_utc_millis.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &millis) != 7) {
    return "unparsable " + iso_utc_millis;
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  const std::time_t t = ::timegm(&utc);
  std::tm local{};
  ::localtime_r(&t, &local);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%03d000", local.tm_year + 1900,
                local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec, millis);
  return text;
}

// GET /api/v1/predictions?per_page=100, all pages, newest first.
inline std::vector<json> ListAll(httplib::Client& client) {
  std::vector<json> all;
  for (int page = 1; page < 10000; ++page) {
    auto res =
        client.Get(("/api/v1/predictions?per_page=100&page=" + std::to_string(page)).c_str());
    const json body = Json(res);
    if (!res || res->status != 200 || !body.is_object() || !body.contains("items")) {
      ADD_FAILURE() << "listing page " << page << ": " << Describe(res);
      break;
    }
    if (body["items"].empty()) break;
    for (const auto& item : body["items"]) all.push_back(item);
  }
  return all;
}

inline std::int64_t Total(httplib::Client& client) {
  auto res = client.Get("/api/v1/predictions?per_page=1");
  const json body = Json(res);
  if (!res || res->status != 200 || !body.is_object() || !body.contains("total") ||
      !body["total"].is_number_integer()) {
    ADD_FAILURE() << "GET /api/v1/predictions?per_page=1: " << Describe(res);
    return -1;
  }
  return body["total"].get<std::int64_t>();
}

}  // namespace pneumo::serve_testing
