// Arbitrary bytes as one HTTP request to cpp-httplib's server, as `pneumo serve` reads an upload:
// the request line, headers, a Content-Length or chunked body, and the multipart/form-data parser
// (httplib::detail::MultipartFormDataParser) behind a ContentReader whose callbacks do what
// ReadUpload in src/http/http_server.cc does (the first part named "file" is the upload, a size
// limit on everything read). cpp-httplib is Debian's shared library, so libFuzzer sees no
// coverage inside it (only these callbacks); ASan still checks what it writes into our buffers.
// Checks: the upload never exceeds the limit; an upload read from a Content-Length body is a
// contiguous run of the request's bytes.
#include <httplib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"

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

struct Upload {
  bool called = false, read = false, multipart = false, too_large = false, has_file = false;
  std::string bytes, filename;
  std::size_t received = 0;
};

Upload* current = nullptr;

void ReadUploadLike(const httplib::Request& req, httplib::Response&,
                    const httplib::ContentReader& reader) {
  Upload& upload = *current;
  upload.called = true;
  auto within_limit = [&](std::size_t n) {
    upload.received += n;
    upload.too_large = upload.received > kLimit;
    return !upload.too_large;
  };
  if (req.is_multipart_form_data()) {
    upload.multipart = true;
    bool in_file = false;
    upload.read = reader(
        [&](const httplib::MultipartFormData& part) {
          in_file = part.name == "file" && !upload.has_file;
          if (in_file) {
            upload.has_file = true;
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
    upload.read = reader([&](const char* data, std::size_t n) {
      if (!within_limit(n)) return false;
      upload.bytes.append(data, n);
      return true;
    });
  }
}

OneRequestServer& Server() {
  static OneRequestServer* server = [] {
    auto* s = new OneRequestServer();  // lives as long as the process, as in the server
    s->set_payload_max_length(kLimit * 2);
    s->Post("/api/v1/predictions", ReadUploadLike);
    s->Post("/predict", ReadUploadLike);
    return s;
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Upload upload;
  current = &upload;
  InputStream stream(input);
  Server().Process(stream);
  current = nullptr;
  if (!upload.called) return 0;
  FUZZ_CHECK(upload.bytes.size() <= kLimit, "an upload larger than the limit was kept");
  if (!upload.read || upload.too_large) return 0;
  // A chunked (Transfer-Encoding) or compressed (Content-Encoding) body is not the wire's bytes.
  const bool encoded = input.find("ncoding") != std::string_view::npos;
  if (!encoded && !upload.bytes.empty()) {
    FUZZ_CHECK(input.find(upload.bytes) != std::string_view::npos,
               "the upload is not a run of the request's bytes");
  }
  if (upload.has_file && upload.multipart) {
    FUZZ_CHECK(upload.filename.size() <= input.size(), "a file name longer than the request");
  }
  return 0;
}
