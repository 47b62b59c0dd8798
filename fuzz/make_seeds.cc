// Writes the seed corpus of every harness (scripts/fuzz.sh runs it; nothing binary is committed):
// valid inputs made the way the tests make them, so that each fuzzer starts past the parsers'
// first checks. make_seeds DIR writes DIR/<harness>/<name>.
//   images: synthetic X-rays (tests/testing/synthetic_xrays.h) as JPEG (baseline, progressive,
//   large enough to decode reduced), PNG (8- and 16-bit, colour); DICOM from
//   tests/dicom/chest_dicom.h (DX, CT, MONOCHROME1); STOW and form-data bodies around them; the
//   shipped model card; config files; query strings; CIDR lists; JSON bodies.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "dicom/chest_dicom.h"
#include "model/model_card.h"
#include "testing/synthetic_xrays.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

fs::path root;

void Write(const std::string& harness, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / harness);
  std::ofstream(root / harness / name, std::ios::binary) << bytes;
}

void Write(const std::string& harness, const std::string& name, const Bytes& bytes) {
  Write(harness, name, std::string(bytes.begin(), bytes.end()));
}

Bytes Encode(const std::string& ext, const cv::Mat& image, const std::vector<int>& params = {}) {
  Bytes out;
  cv::imencode(ext, image, out, params);
  return out;
}

std::string Text(const Bytes& bytes) { return {bytes.begin(), bytes.end()}; }

std::string Stow(const std::vector<Bytes>& parts) {
  std::string body;
  for (const Bytes& part : parts)
    body += "--b0undary\r\nContent-Type: application/dicom\r\n\r\n" + Text(part) + "\r\n";
  return "multipart/related; type=\"application/dicom\"; boundary=b0undary\n" + body +
         "--b0undary--\r\n";
}

std::string FormPost(const std::string& path, const Bytes& file, bool chunked) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chest.png\"\r\n"
      "Content-Type: image/png\r\n\r\n" +
      Text(file) + "\r\n--XyZ--\r\n";
  std::string head = "POST " + path +
                     " HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; "
                     "boundary=XyZ\r\n";
  if (!chunked) return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  return head + "Transfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + body + "\r\n0\r\n\r\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 2;
  }
  root = argv[1];
  std::mt19937 rng(11);
  const cv::Mat small = pneumo::testing::SyntheticXray(true, rng, 96);
  const cv::Mat large = pneumo::testing::SyntheticXray(false, rng, 600);
  cv::Mat colour;
  cv::cvtColor(small, colour, cv::COLOR_GRAY2BGR);
  cv::circle(colour, {40, 40}, 20, {0, 0, 255}, -1);
  cv::Mat sixteen;
  small.convertTo(sixteen, CV_16U, 257.0);

  // Images, as uploads.
  const Bytes png = Encode(".png", small),
              jpeg = Encode(".jpg", small, {cv::IMWRITE_JPEG_QUALITY, 80});
  Write("image_decode", "small.png", png);
  Write("image_decode", "small16.png", Encode(".png", sixteen));
  Write("image_decode", "colour.png", Encode(".png", colour));
  Write("image_decode", "small.jpg", jpeg);
  Write("image_decode", "large.jpg", Encode(".jpg", large, {cv::IMWRITE_JPEG_QUALITY, 30}));
  Write("image_decode", "progressive.jpg",
        Encode(".jpg", small, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  Write("image_decode", "colour.jpg", Encode(".jpg", colour));

  // DICOM, as received.
  namespace dt = pneumo::dicom::testing;
  const Bytes dx = dt::MakeChestDicom(small);
  Write("dicom", "dx.dcm", dx);
  Write("dicom", "ct.dcm",
        dt::MakeChestDicom(small, {.modality = "CT", .sop_class = UID_CTImageStorage}));
  Write("dicom", "monochrome1.dcm", dt::MakeChestDicom(small, {.photometric = "MONOCHROME1"}));
  Write("dicom", "no_view.dcm", dt::MakeChestDicom(small, {.body_part = "", .view = ""}));
  Write("image_decode", "dx.dcm", dx);

  // STOW-RS bodies, with the Content-Type on the first line.
  Write("stow_multipart", "one.txt", Stow({dx}));
  Write("stow_multipart", "two.txt", Stow({dx, Bytes{'x', '\r', '\n', '-', '-'}}));
  Write("stow_multipart", "quoted.txt",
        "Multipart/Related; boundary=\"q\"\n--q\r\n\r\nno headers\r\n--q--\r\n");

  // HTTP requests with a form upload.
  const Bytes tiny = Encode(".png", small(cv::Rect(0, 0, 8, 8)));
  Write("form_data", "upload.http", FormPost("/api/v1/predictions", tiny, false));
  Write("form_data", "chunked.http", FormPost("/predict", tiny, true));
  Write("form_data", "raw.http",
        "POST /api/v1/predictions?filename=a.png HTTP/1.1\r\nContent-Type: image/png\r\n"
        "Content-Length: 4\r\n\r\n\x89PNG");

  // Query strings and header values.
  // request_head: the first byte sets the piece size, the rest arrives in pieces.
  Write("request_head", "get.txt", "\x05GET /api/v1/predictions HTTP/1.1\r\nHost: x\r\n\r\n");
  Write("request_head", "post.txt", "\x01POST /predict HTTP/1.1\nHost: x\n\nbody");
  Write("request_head", "length.txt",
        "\x20PUT /x HTTP/1.1\r\ncontent-length: 4\r\nX-A: b\r\n\r\nabcdGET / HTTP/1.1\r\n\r\n");
  Write("query_params", "paging.txt", "page=2&per_page=50&accession=ACC%2D1");
  Write("query_params", "audit.txt", "from=2026-12-01&to=2026-12-01T23:05:00.123Z&user=admin");
  Write("query_params", "compat.txt", "page=%20-3%20");
  Write("query_params", "id.txt", "0f3c9a5e-1b2d-4c6e-8f00-123456789abc");

  // CIDR lists, an address, a header (FuzzedDataProvider's random-length strings end at "\\ ").
  Write("access_control", "lists.txt",
        "10.0.0.0/8, 192.168.1.7, ::1/128\\ 10.1.2.3\\ pneumo_session=abc; other=1");
  Write("access_control", "bearer.txt", "::ffff:127.0.0.1/104\\ ::ffff:127.0.0.1\\ Bearer tok_123");

  // Model cards: the shipped one and a minimal one.
  std::ifstream shipped(fs::path(PNEUMO_SOURCE_DIR) / "models/default/card.json");
  Write("model_card", "shipped.json",
        std::string(std::istreambuf_iterator<char>(shipped), std::istreambuf_iterator<char>()));
  pneumo::model::ModelCard card;
  card.architecture = "pneumonet";
  Write("model_card", "minimal.json", pneumo::model::ToJson(card).dump(2));

  // Config files.
  Write("config_file", "serve.conf",
        "# pneumo serve\n[serve]\nlisten = \"0.0.0.0:8080\"\nmax_batch = 16\nmax_wait_ms = 2.5\n"
        "accounts = true\nlog_level = warn\nmetrics_networks = \"10.0.0.0/8,127.0.0.1/32\"\n"
        "store = \"redis://:secret@redis:6379/0\"\nstore_password_file = /etc/pneumo/pw\n");
  Write("config_file", "escapes.conf", "listen = \"a\\\"b\\\\c\\n\\t\"  # comment\n");

  // JSON: 8 bytes of a double, then strings, then the body (see json_body_fuzzer.cc).
  Write("json_body", "login.txt",
        std::string("\x9a\x99\x99\x99\x99\x99\xe9\x3f", 8) + "0f3c\\ chest.png\\ \x01" +
            "1.2.3\\ {\"review_reasons\":[\"low_confidence\"],\"ood_score\":0.2}\\ " +
            "{\"username\":\"admin\",\"password\":\"hunter2\"}");
  std::cout << "make_seeds: wrote the seeds under " << root.string() << "\n";
  return 0;
}
