// Arbitrary bytes as one HTTP request to cpp-httplib's server, as `pneumo serve` reads an upload:
// the request line, headers, a Content-Length or chunked body, and the multipart/form-data parser
// (httplib::detail::MultipartFormDataParser) behind a ContentReader, read by the server's own
// http::ReadUpload (src/http/upload_reader.cc) on the two routes that take uploads, as they call
// it. cpp-httplib is Debian's shared library, so libFuzzer sees no coverage inside it (only
// ReadUpload's callbacks); ASan still checks what it writes into our buffers.
// Checks: an accepted upload never exceeds the limit; one read from a Content-Length body is a
// contiguous run of the request's bytes; a refusal is one of ReadUpload's 400, 413 or 415.
#include <httplib.h>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/upload_reader.h"

namespace {

constexpr std::size_t kLimit = 64 << 10;  // --max-upload-mb, smaller

// The request's bytes as the connection; whatever the server answers is dropped.
class InputStream final : public httplib::Stream {
 public:
  explicit InputStream(std::string_view input) : input_(input) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, std::size_t size) override {
    const std::size_t n = std::min(size, input_.size() - position_);
    std::copy_n(input_.data() + position_, n, ptr);
    position_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char*, std::size_t size) override { return static_cast<ssize_t>(size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  std::string_view input_;
  std::size_t position_ = 0;
};

// Server::process_request is protected: the one request a connection carries, without a socket.
class OneRequestServer final : public httplib::Server {
 public:
  bool Process(httplib::Stream& stream) {
    bool closed = false;
    return process_request(stream, /*close_connection=*/true, closed, nullptr);
  }
};

// What the last request's ReadUpload gave; reset before each input.
struct Outcome {
  bool called = false;
  std::expected<pneumo::http::Upload, pneumo::http::HttpError> upload;
};

Outcome* current = nullptr;

// The two upload routes: the API's (a raw image body allowed) and the Flask-compatible /predict
// (multipart only), as HttpServer::State::Predict calls ReadUpload.
httplib::Server::HandlerWithContentReader Route(bool raw_allowed) {
  return [raw_allowed](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& reader) {
    current->called = true;
    current->upload = pneumo::http::ReadUpload(req, res, reader, kLimit, raw_allowed);
  };
}

OneRequestServer& Server() {
  static OneRequestServer* server = [] {
    auto* s = new OneRequestServer();  // lives as long as the process, as in the server
    s->set_payload_max_length(kLimit * 2);
    s->Post("/api/v1/predictions", Route(/*raw_allowed=*/true));
    s->Post("/predict", Route(/*raw_allowed=*/false));
    return s;
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Outcome outcome;
  current = &outcome;
  InputStream stream(input);
  Server().Process(stream);
  current = nullptr;
  if (!outcome.called) return 0;
  if (!outcome.upload) {
    const int status = outcome.upload.error().status;
    FUZZ_CHECK(status == 400 || status == 413 || status == 415,
               "ReadUpload refused with a status outside 400, 413 and 415");
    return 0;
  }
  const pneumo::http::Upload& upload = *outcome.upload;
  FUZZ_CHECK(upload.bytes.size() <= kLimit, "an upload larger than the limit was kept");
  // A chunked (Transfer-Encoding) or compressed (Content-Encoding) body is not the wire's bytes.
  const bool encoded = input.find("ncoding") != std::string_view::npos;
  if (!encoded && !upload.bytes.empty()) {
    FUZZ_CHECK(input.find(upload.bytes) != std::string_view::npos,
               "the upload is not a run of the request's bytes");
  }
  // A query's ?filename= is percent-decoded, so it is never longer than the request either.
  FUZZ_CHECK(upload.filename.size() <= input.size(), "a file name longer than the request");
  return 0;
}
