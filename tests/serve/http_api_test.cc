// The HTTP API of `pneumo serve` (docs/http-api.md), black box, against both result stores: every
// test runs once on SQLite (a file in a temporary directory) and once on a real redis-server.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <opencv2/imgproc.hpp>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "core/base64.h"
#include "core/sha256.h"
#include "serve/serve_fixture.h"
#include "store/redis_server.h"

namespace pneumo::serve_testing {
namespace {

enum class Backend { kSqlite, kRedis };

void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::kSqlite ? "Sqlite" : "Redis");
}

std::string Sha256Of(const std::string& bytes) {
  return Sha256Hex(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

// "stem<i>ext", e.g. list3.png.
std::string NumberedName(const std::string& stem, unsigned i, const std::string& ext) {
  std::ostringstream name;
  name << stem << i << ext;
  return name.str();
}

class HttpApiTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string url = "sqlite:" + (dir_ / "results.db").string();
    if (GetParam() == Backend::kRedis) {
      redis_ = std::make_unique<store::testing::RedisServer>("pw-for-serve-tests");
      const std::string problem = redis_->Start();
      ASSERT_EQ(problem, "") << problem;
      url = redis_->Url("pw-for-serve-tests");
    }
    server_ = std::make_unique<PneumoServer>(url);
    const std::string problem = server_->Start();
    ASSERT_EQ(problem, "") << problem;
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->LogTail() << "\n";
  }

  // POSTs `bytes` as a multipart upload and returns the 201 answer (null JSON on failure).
  json Upload(const std::string& bytes, const std::string& filename) {
    auto client = server_->Client();
    auto res = UploadMultipart(client, "/api/v1/predictions", bytes, filename);
    EXPECT_TRUE(res && res->status == 201) << Describe(res);
    const json body = Json(res);
    return res && res->status == 201 && body.is_object() ? body : json();
  }

  // Every documented field of a prediction, with types and the relations between them.
  void ExpectWellFormedPrediction(const json& p, const std::string& filename,
                                  const std::string& bytes, const std::string& format, int width,
                                  int height) {
    ASSERT_TRUE(p.is_object()) << p;
    for (const char* key :
         {"id", "filename", "label", "probability", "threshold", "review", "review_reasons",
          "model", "sha256", "created_at", "image", "timings_ms", "links"}) {
      EXPECT_TRUE(p.contains(key)) << "no \"" << key << "\" in " << p.dump();
    }
    ASSERT_TRUE(p["id"].is_string()) << p;
    const std::string id = p["id"];
    EXPECT_TRUE(std::regex_match(id, std::regex("^[0-9A-Za-z_-]{26}$"))) << id;
    EXPECT_EQ(p.value("filename", ""), filename);
    ASSERT_TRUE(p["probability"].is_number() && p["threshold"].is_number()) << p;
    const double probability = p["probability"], threshold = p["threshold"];
    EXPECT_GE(probability, 0.0);
    EXPECT_LE(probability, 1.0);
    EXPECT_EQ(p.value("label", ""), probability >= threshold ? "PNEUMONIA" : "NORMAL")
        << "probability " << probability << " threshold " << threshold;
    ASSERT_TRUE(p["review"].is_boolean() && p["review_reasons"].is_array()) << p;
    EXPECT_EQ(p["review"].get<bool>(), !p["review_reasons"].empty()) << p;
    for (const auto& reason : p["review_reasons"]) {
      EXPECT_TRUE(reason.is_string() && !reason.get<std::string>().empty()) << reason;
    }
    ASSERT_TRUE(p["model"].is_object()) << p;
    EXPECT_TRUE(p["model"].contains("name") && p["model"]["name"].is_string()) << p["model"];
    EXPECT_TRUE(p["model"].contains("version") && p["model"]["version"].is_string()) << p["model"];
    EXPECT_EQ(p.value("sha256", ""), Sha256Of(bytes));
    EXPECT_TRUE(IsIsoUtcMillis(p.value("created_at", ""))) << p["created_at"];
    ASSERT_TRUE(p["image"].is_object()) << p;
    EXPECT_EQ(p["image"].value("format", ""), format);
    EXPECT_EQ(p["image"].value("width", -1), width);
    EXPECT_EQ(p["image"].value("height", -1), height);
    ASSERT_TRUE(p["timings_ms"].is_object()) << p;
    for (const char* stage : {"decode", "queue", "inference"}) {
      EXPECT_TRUE(p["timings_ms"].contains(stage) && p["timings_ms"][stage].is_number() &&
                  p["timings_ms"][stage].get<double>() >= 0)
          << stage << " in " << p["timings_ms"];
    }
    ASSERT_TRUE(p["links"].is_object()) << p;
    EXPECT_EQ(p["links"].value("self", ""), "/api/v1/predictions/" + id);
    EXPECT_EQ(p["links"].value("image", ""), "/api/v1/predictions/" + id + "/image");
    EXPECT_EQ(p["links"].value("heatmap", ""), "/api/v1/predictions/" + id + "/heatmap");
    // Inside the uncertainty band a clinician must look.
    const json band = ModelCard().value("review_band", json());
    if (band.is_number() && std::abs(probability - threshold) < band.get<double>()) {
      EXPECT_TRUE(p["review"].get<bool>())
          << "probability " << probability << " is within " << band << " of " << threshold;
    }
  }

  json ModelCard() {
    auto client = server_->Client();
    auto res = client.Get("/api/v1/model");
    EXPECT_TRUE(res && res->status == 200) << Describe(res);
    return Json(res);
  }

  TempDir dir_;
  std::unique_ptr<store::testing::RedisServer> redis_;
  std::unique_ptr<PneumoServer> server_;
};

TEST_P(HttpApiTest, MultipartUploadAnswers201WithEveryDocumentedFieldAndALocation) {
  const std::string png = ChestPng(1, 300, 260);
  auto client = server_->Client();
  auto res =
      UploadMultipart(client, "/api/v1/predictions", png, "chest one.png", "file", "image/png");
  ASSERT_TRUE(res) << Describe(res);
  ASSERT_EQ(res->status, 201) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  const json p = Json(res);
  ExpectWellFormedPrediction(p, "chest one.png", png, "png", 300, 260);
  const std::string location = res->get_header_value("Location");
  EXPECT_TRUE(location == "/api/v1/predictions/" + p.value("id", "?") ||
              location.ends_with("/api/v1/predictions/" + p.value("id", "?")))
      << "Location: " << location;

  const json card = ModelCard();
  EXPECT_EQ(p["threshold"], card["threshold"]);
  EXPECT_EQ(p["model"]["name"], card["name"]);
  EXPECT_EQ(p["model"]["version"], card["version"]);
}

TEST_P(HttpApiTest, RawPngAndJpegBodiesArePredictedAndNamedByTheQuery) {
  auto client = server_->Client();
  const std::string png = ChestPng(2, 256, 256);
  auto res = UploadRaw(client, "/api/v1/predictions?filename=raw.png", png, "image/png");
  ASSERT_TRUE(res && res->status == 201) << Describe(res);
  ExpectWellFormedPrediction(Json(res), "raw.png", png, "png", 256, 256);

  const std::string jpeg = ChestJpeg(3, 400, 336);
  res = UploadRaw(client, "/api/v1/predictions?filename=raw.jpeg", jpeg, "image/jpeg");
  ASSERT_TRUE(res && res->status == 201) << Describe(res);
  ExpectWellFormedPrediction(Json(res), "raw.jpeg", jpeg, "jpeg", 400, 336);
  EXPECT_FALSE(res->get_header_value("Location").empty());
}

TEST_P(HttpApiTest, RawDicomBodyIsPredicted) {
  auto client = server_->Client();
  const std::string dicom = Dicom(ChestXray(4, 320, 240));
  auto res =
      UploadRaw(client, "/api/v1/predictions?filename=chest.dcm", dicom, "application/dicom");
  ASSERT_TRUE(res && res->status == 201) << Describe(res);
  ExpectWellFormedPrediction(Json(res), "chest.dcm", dicom, "dicom", 320, 240);
}

TEST_P(HttpApiTest, FormatIsSniffedFromTheBytesNotTheNameOrContentType) {
  auto client = server_->Client();
  const std::string jpeg = ChestJpeg(5);
  auto res = UploadRaw(client, "/api/v1/predictions?filename=looks.png", jpeg, "image/png");
  ASSERT_TRUE(res && res->status == 201) << Describe(res);
  EXPECT_EQ(Json(res)["image"].value("format", ""), "jpeg");
  res = UploadMultipart(client, "/api/v1/predictions", jpeg, "named.png", "file", "image/png");
  ASSERT_TRUE(res && res->status == 201) << Describe(res);
  EXPECT_EQ(Json(res)["image"].value("format", ""), "jpeg");
}

// The contract's examples of review reasons: a very small image, an unusual aspect ratio, an
// image with almost no contrast. Each is predicted (201) but flagged for a human.
TEST_P(HttpApiTest, UnusualImagesArePredictedButFlaggedForReview) {
  const std::vector<std::tuple<std::string, std::string, int, int>> unusual = {
      {"tiny.png", ChestPng(7, 48, 48), 48, 48},
      {"wide.png",
       Encode(".png",
              [] {
                cv::Mat wide;
                cv::resize(ChestXray(8, 320, 320), wide, cv::Size(960, 300));
                return wide;
              }()),
       960, 300},
      {"flat.png", Encode(".png", cv::Mat(256, 256, CV_8UC1, cv::Scalar(128))), 256, 256},
  };
  for (const auto& [name, png, width, height] : unusual) {
    SCOPED_TRACE(name);
    const json p = Upload(png, name);
    ASSERT_TRUE(p.is_object());
    ExpectWellFormedPrediction(p, name, png, "png", width, height);
    EXPECT_TRUE(p.value("review", false)) << p.dump();
    EXPECT_FALSE(p.value("review_reasons", json::array()).empty()) << p.dump();
  }
}

// Real X-rays from ../shared/data: the server labels them as their folders do, with the
// probability `pneumo predict` gives for the same file.
TEST_P(HttpApiTest, RealXraysGetTheirFoldersLabelsAndTheCliProbability) {
  const fs::path train = pneumo::testing::SharedTrainDir();
  if (train.empty()) GTEST_SKIP() << pneumo::testing::kNoSharedData;
  for (const fs::path& file : {train / "NORMAL" / "IM-0115-0001.jpeg",
                               train / "PNEUMONIA" / "person1000_virus_1681.jpeg"}) {
    SCOPED_TRACE(file.string());
    if (!fs::exists(file)) GTEST_SKIP() << file << " not found: this real-data check was NOT run";
    const std::string bytes = ReadFile(file);
    const json p = Upload(bytes, file.filename().string());
    ASSERT_TRUE(p.is_object());
    const int width = p["image"].value("width", 0), height = p["image"].value("height", 0);
    ExpectWellFormedPrediction(p, file.filename().string(), bytes, "jpeg", width, height);
    EXPECT_EQ(p.value("label", ""), file.parent_path().filename().string());

    FILE* pipe = popen((PneumoBinary() + " --log-level off predict --json --model " +
                        ShippedModelDir().string() + " " + file.string())
                           .c_str(),
                       "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    pclose(pipe);
    const json cli = json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(cli.is_array() && cli.size() == 1 && cli[0].contains("probability")) << out;
    EXPECT_NEAR(p.value("probability", -1.0), cli[0]["probability"].get<double>(), 0.02);
    EXPECT_EQ(p.value("label", ""), cli[0].value("label", "?"));
  }
}

TEST_P(HttpApiTest, GetByIdAnswersExactlyWhatThePostAnswered) {
  const json posted = Upload(ChestPng(6), "six.png");
  ASSERT_TRUE(posted.is_object());
  auto client = server_->Client();
  auto res = client.Get(("/api/v1/predictions/" + posted["id"].get<std::string>()).c_str());
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  EXPECT_EQ(Json(res), posted) << "POST answered:\n" << posted.dump(2);
}

TEST_P(HttpApiTest, UnknownIdIs404NotFound) {
  auto client = server_->Client();
  EXPECT_TRUE(
      IsApiError(client.Get("/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/predictions/no-such-id"), 404, "not_found"));
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N/image"), 404,
                         "not_found"));
  EXPECT_TRUE(IsApiError(client.Get("/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N/heatmap"), 404,
                         "not_found"));
}

TEST_P(HttpApiTest, ListIsNewestFirstWithTotalPagesAndPaging) {
  std::vector<json> posted;
  for (unsigned i = 0; i < 5; ++i) {
    posted.push_back(Upload(ChestPng(10 + i), NumberedName("list", i, ".png")));
    ASSERT_TRUE(posted.back().is_object());
  }
  for (std::size_t i = 1; i < posted.size(); ++i) {
    EXPECT_LT(posted[i - 1].value("id", ""), posted[i].value("id", ""))
        << "ids are not time-ordered";
  }
  std::reverse(posted.begin(), posted.end());  // newest first
  auto client = server_->Client();

  auto res = client.Get("/api/v1/predictions");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  json body = Json(res);
  EXPECT_EQ(body.value("page", -1), 1);
  EXPECT_EQ(body.value("per_page", -1), 20);
  EXPECT_EQ(body.value("total", -1), 5);
  EXPECT_EQ(body.value("pages", -1), 1);
  ASSERT_TRUE(body.contains("items") && body["items"].is_array()) << body;
  ASSERT_EQ(body["items"].size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(body["items"][i], posted[i]) << "item " << i;

  const std::vector<std::vector<std::size_t>> expected_pages = {{0, 1}, {2, 3}, {4}};
  for (int page = 1; page <= 3; ++page) {
    res = client.Get(("/api/v1/predictions?page=" + std::to_string(page) + "&per_page=2").c_str());
    ASSERT_TRUE(res && res->status == 200) << Describe(res);
    body = Json(res);
    EXPECT_EQ(body.value("page", -1), page);
    EXPECT_EQ(body.value("per_page", -1), 2);
    EXPECT_EQ(body.value("total", -1), 5);
    EXPECT_EQ(body.value("pages", -1), 3);
    const auto& want = expected_pages[page - 1];
    ASSERT_EQ(body["items"].size(), want.size()) << body;
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(body["items"][i].value("id", ""), posted[want[i]].value("id", "?"))
          << "page " << page << " item " << i;
    }
  }

  res = client.Get("/api/v1/predictions?page=4&per_page=2");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  body = Json(res);
  EXPECT_EQ(body["items"], json::array());
  EXPECT_EQ(body.value("page", -1), 4);
  EXPECT_EQ(body.value("total", -1), 5);
  EXPECT_EQ(body.value("pages", -1), 3);
}

TEST_P(HttpApiTest, EmptyHistoryListsNothing) {
  auto client = server_->Client();
  auto res = client.Get("/api/v1/predictions");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  const json body = Json(res);
  EXPECT_EQ(body.value("items", json()), json::array());
  EXPECT_EQ(body.value("total", -1), 0);
  EXPECT_EQ(body.value("pages", -1), 0);
}

TEST_P(HttpApiTest, PreviewIsAGrayscaleJpegAndHeatmapAColourPngOfTheSameSize) {
  const json p = Upload(ChestPng(20, 512, 400), "big.png");
  ASSERT_TRUE(p.is_object());
  auto client = server_->Client();

  auto image = client.Get(p["links"]["image"].get<std::string>().c_str());
  ASSERT_TRUE(image && image->status == 200) << Describe(image);
  EXPECT_EQ(MediaType(image->get_header_value("Content-Type")), "image/jpeg");
  ASSERT_TRUE(image->body.starts_with("\xFF\xD8\xFF")) << "JPEG start-of-image marker";
  const cv::Mat preview = DecodePng(image->body);
  ASSERT_FALSE(preview.empty()) << "OpenCV cannot decode the preview";
  EXPECT_EQ(preview.channels(), 1) << "the preview is documented as grayscale";
  EXPECT_LE(std::max(preview.cols, preview.rows), 384);
  EXPECT_NEAR(static_cast<double>(preview.cols) / preview.rows, 512.0 / 400.0, 0.02)
      << "preview " << preview.cols << "x" << preview.rows << " does not keep the aspect ratio";

  auto heat = client.Get(p["links"]["heatmap"].get<std::string>().c_str());
  ASSERT_TRUE(heat && heat->status == 200) << Describe(heat);
  EXPECT_EQ(MediaType(heat->get_header_value("Content-Type")), "image/png");
  ASSERT_TRUE(HasPngSignature(heat->body));
  const cv::Mat heatmap = DecodePng(heat->body);
  ASSERT_FALSE(heatmap.empty()) << "OpenCV cannot decode the heatmap";
  EXPECT_EQ(heatmap.cols, preview.cols);
  EXPECT_EQ(heatmap.rows, preview.rows);
  ASSERT_GE(heatmap.channels(), 3) << "the heatmap is documented as RGB";
  std::vector<cv::Mat> channels;
  cv::split(heatmap, channels);
  EXPECT_GT(cv::norm(channels[0], channels[1], cv::NORM_INF) +
                cv::norm(channels[1], channels[2], cv::NORM_INF),
            0.0)
      << "the heatmap's channels are identical: it is gray, not a colour map";
}

TEST_P(HttpApiTest, ModelCardIsTheShippedCardPlusTheReviewBand) {
  const json card = ModelCard();
  ASSERT_TRUE(card.is_object()) << card;
  const json shipped = json::parse(ReadFile(ShippedModelDir() / "card.json"));
  // The fields docs/http-api.md lists, as card.json has them.
  for (const char* key :
       {"name", "version", "architecture", "normalization", "temperature", "bias", "threshold",
        "threshold_rule", "validation", "training", "intended_use"}) {
    EXPECT_EQ(card.value(key, json()), shipped[key]) << key;
  }
  // The contract calls the input size input_size; card.json keeps it under input.size.
  EXPECT_TRUE(card.value("input_size", json()) == shipped["input"]["size"] ||
              card.value("input", json()) == shipped["input"])
      << "neither input_size nor input in " << card.dump().substr(0, 300);
  ASSERT_TRUE(card.contains("review_band") && card["review_band"].is_number())
      << card.dump().substr(0, 400);
  EXPECT_GT(card["review_band"].get<double>(), 0.0);
  EXPECT_LT(card["review_band"].get<double>(), 0.5);
}

// ---------------------------------------------------------------------------------------------
// The original Flask API: POST /predict, GET /predictions, GET /health

// The bytes of a "data:<media_type>;base64,..." URL; "" (with a failure) when it is not one.
std::string DataUrlBytes(const json& url, const std::string& media_type) {
  const std::string prefix = "data:" + media_type + ";base64,";
  if (!url.is_string() || !url.get<std::string>().starts_with(prefix)) {
    ADD_FAILURE() << "not a " << prefix << "... URL: " << url.dump().substr(0, 80);
    return "";
  }
  auto bytes = Base64Decode(url.get<std::string>().substr(prefix.size()));
  if (!bytes) ADD_FAILURE() << "not base64: " << bytes.error().message;
  return bytes.value_or("");
}

// "97.12%" from 0.9712.
std::string Percent(double probability) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", probability * 100.0);
  return text;
}

TEST_P(HttpApiTest, CompatPredictAnswersTheFlaskShapeAndStoresThePrediction) {
  auto client = server_->Client();
  const std::string png = ChestPng(30);
  auto res = UploadMultipart(client, "/predict", png, "flask.png");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  const json body = Json(res);
  ASSERT_TRUE(body.is_object()) << Describe(res);
  // The original's five fields, then pneumo's additions.
  for (const char* key : {"prediction", "confidence", "filename", "image", "timestamp",
                          "probability", "id", "threshold", "review", "review_reasons"}) {
    EXPECT_TRUE(body.contains(key)) << "no \"" << key << "\" in " << body.dump().substr(0, 400);
  }
  EXPECT_EQ(body.value("filename", ""), "flask.png");
  ASSERT_TRUE(body["probability"].is_number()) << body.dump().substr(0, 400);
  const double probability = body["probability"];
  const std::string prediction = body.value("prediction", "");
  ASSERT_TRUE(prediction == "Pneumonia" || prediction == "Normal") << prediction;
  // confidence: P(pneumonia) as a percentage with two decimals, whichever class was predicted.
  ASSERT_TRUE(body["confidence"].is_string()) << body["confidence"];
  const std::string confidence = body["confidence"];
  EXPECT_TRUE(std::regex_match(confidence, std::regex(R"(^\d{1,3}\.\d{2}%$)"))) << confidence;
  EXPECT_EQ(confidence, Percent(probability));
  EXPECT_EQ(DataUrlBytes(body["image"], "image/png"), png) << "the echoed image is not the upload";
  EXPECT_TRUE(IsLocalTimestamp(body.value("timestamp", ""))) << body["timestamp"];

  res = client.Get(("/api/v1/predictions/" + body.value("id", "?")).c_str());
  ASSERT_TRUE(res && res->status == 200) << "the upload is not in the history: " << Describe(res);
  const json stored = Json(res);
  EXPECT_EQ(stored.value("probability", -1.0), probability);
  EXPECT_EQ(stored.value("label", ""), prediction == "Pneumonia" ? "PNEUMONIA" : "NORMAL");
  EXPECT_EQ(stored.value("threshold", -1.0), body.value("threshold", -2.0));
  EXPECT_EQ(stored.value("review", true), body.value("review", false));
  EXPECT_EQ(stored.value("review_reasons", json()),
            body.value("review_reasons", json::array({"?"})));
  EXPECT_EQ(stored.value("sha256", ""), Sha256Of(png));
  EXPECT_EQ(body.value("timestamp", ""), LocalTimeOf(stored.value("created_at", "?")))
      << "the timestamp is not the stored created_at in local time";
}

TEST_P(HttpApiTest, CompatPredictEchoesAJpegAsAJpegDataUrl) {
  auto client = server_->Client();
  const std::string jpeg = ChestJpeg(31, 400, 336);
  auto res = UploadMultipart(client, "/predict", jpeg, "x.jpeg", "file", "image/jpeg");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  const json body = Json(res);
  EXPECT_EQ(DataUrlBytes(body["image"], "image/jpeg"), jpeg);
  EXPECT_EQ(body.value("filename", ""), "x.jpeg");
}

// A browser cannot show a DICOM file: the echo is the stored preview, a JPEG of its pixels.
TEST_P(HttpApiTest, CompatPredictEchoesADicomUploadAsItsJpegPreview) {
  auto client = server_->Client();
  const std::string dicom = Dicom(ChestXray(32, 320, 240));
  auto res = UploadMultipart(client, "/predict", dicom, "chest.dcm", "file", "application/dicom");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  const json body = Json(res);
  const std::string echoed = DataUrlBytes(body["image"], "image/jpeg");
  ASSERT_TRUE(echoed.starts_with("\xFF\xD8\xFF")) << "not a JPEG";
  const cv::Mat picture = DecodePng(echoed);
  ASSERT_FALSE(picture.empty()) << "OpenCV cannot decode the echoed JPEG";
  EXPECT_EQ(picture.cols, 320);
  EXPECT_EQ(picture.rows, 240);
  auto preview = client.Get(("/api/v1/predictions/" + body.value("id", "?") + "/image").c_str());
  ASSERT_TRUE(preview && preview->status == 200) << Describe(preview);
  EXPECT_TRUE(preview->body == echoed) << "the echo is not the stored preview";
  EXPECT_EQ(body.value("filename", ""), "chest.dcm");
}

// The original's refusals, word for word; pneumo's own (a format it does not decode) in the
// same shape.
TEST_P(HttpApiTest, CompatPredictRefusesInTheOriginalErrorShape) {
  auto client = server_->Client();
  EXPECT_TRUE(IsCompatError(UploadMultipart(client, "/predict", ChestPng(33), "x.png", "image"),
                            400, "No file uploaded"));
  EXPECT_TRUE(IsCompatError(UploadMultipart(client, "/predict", ChestPng(33), ""), 400,
                            "No file selected"));
  EXPECT_TRUE(IsCompatError(UploadMultipart(client, "/predict", "not an image", "notes.png"), 400,
                            "Invalid file type: .+"));
  EXPECT_TRUE(IsCompatError(UploadRaw(client, "/predict", ChestPng(33), "image/png"), 400,
                            "No file uploaded"));
  EXPECT_EQ(Total(client), 0) << "a refused upload was stored";
}

TEST_P(HttpApiTest, CompatListHasTheFlaskShapeNewestFirst) {
  std::vector<json> posted;
  for (unsigned i = 0; i < 3; ++i)
    posted.push_back(Upload(ChestPng(40 + i), NumberedName("c", i, ".png")));
  auto client = server_->Client();

  auto res = client.Get("/predictions?page=1");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  const auto body = nlohmann::ordered_json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(body.is_object()) << res->body;
  std::vector<std::string> keys;
  for (const auto& [key, value] : body.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"data", "page", "total_keys", "items_per_page",
                                            "total_pages"}));
  EXPECT_EQ(body.value("page", -1), 1);
  EXPECT_EQ(body.value("total_keys", -1), 3);
  EXPECT_EQ(body.value("items_per_page", -1), 25);
  EXPECT_EQ(body.value("total_pages", -1), 1);
  ASSERT_TRUE(body.contains("data") && body["data"].is_object()) << res->body;
  std::vector<std::string> names;
  for (const auto& [name, value] : body["data"].items()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"c2.png", "c1.png", "c0.png"})) << "not newest first";
  for (const json& want : posted) {
    SCOPED_TRACE(want.value("filename", "?"));
    const auto& item = body["data"].value(want.value("filename", "?"), nlohmann::ordered_json());
    ASSERT_TRUE(item.is_object()) << res->body;
    EXPECT_EQ(item.size(), 2u) << item.dump();
    EXPECT_EQ(item.value("prediction", ""),
              want.value("label", "") == "PNEUMONIA" ? "Pneumonia" : "Normal");
    // P(pneumonia) as Python's str(float): the shortest text that reads back as the same double.
    ASSERT_TRUE(item["confidence"].is_string()) << item.dump();
    const std::string confidence = item["confidence"];
    EXPECT_TRUE(std::regex_match(confidence, std::regex(R"(^(\d+\.\d+|\d(\.\d+)?e-\d{2,})$)")))
        << confidence;
    EXPECT_EQ(std::strtod(confidence.c_str(), nullptr), want.value("probability", -1.0))
        << confidence;
  }
}

TEST_P(HttpApiTest, CompatListPagingFollowsTheOriginalRules) {
  for (unsigned i = 0; i < 3; ++i)
    ASSERT_TRUE(Upload(ChestPng(70 + i, 96, 96), NumberedName("q", i, ".png")).is_object());
  auto client = server_->Client();
  // No page, or one that is not an integer, is page 1 (Flask's type=int falls back to the default).
  for (const char* path : {"/predictions", "/predictions?page=abc", "/predictions?page=1.5",
                           "/predictions?page=", "/predictions?page=%201%20"}) {
    SCOPED_TRACE(path);
    auto res = client.Get(path);
    ASSERT_TRUE(res && res->status == 200) << Describe(res);
    EXPECT_EQ(Json(res).value("page", -1), 1);
    EXPECT_EQ(Json(res).value("data", json()).size(), 3u);
  }
  for (const char* path :
       {"/predictions?page=0", "/predictions?page=-1", "/predictions?page=-99999999999999999999"}) {
    EXPECT_TRUE(IsCompatError(client.Get(path), 400, "Page must be >= 1")) << path;
  }
  for (const char* path : {"/predictions?page=2", "/predictions?page=99999999999999999999"}) {
    EXPECT_TRUE(IsCompatError(client.Get(path), 400, "Page out of range")) << path;
  }
}

TEST_P(HttpApiTest, CompatListOfAnEmptyHistoryIsAnEmptyPage) {
  auto client = server_->Client();
  for (const char* path : {"/predictions", "/predictions?page=1", "/predictions?page=2"}) {
    SCOPED_TRACE(path);
    auto res = client.Get(path);
    ASSERT_TRUE(res && res->status == 200) << Describe(res);
    const json body = Json(res);
    EXPECT_EQ(body.value("data", json()), json::object());
    EXPECT_EQ(body.value("total_keys", -1), 0);
    EXPECT_EQ(body.value("total_pages", -1), 0);
    EXPECT_EQ(body.value("items_per_page", -1), 25);
  }
}

// 25 a page: the 26th and 27th newest are on page 2, and page 3 is past the end.
TEST_P(HttpApiTest, CompatListHas25APageAndTheRestOnTheNext) {
  constexpr unsigned kCount = 27;
  for (unsigned i = 0; i < kCount; ++i) {
    ASSERT_TRUE(Upload(ChestPng(200 + i, 64, 64), NumberedName("n", i, ".png")).is_object()) << i;
  }
  auto client = server_->Client();
  auto res = client.Get("/predictions?page=1");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  json body = Json(res);
  EXPECT_EQ(body.value("total_keys", -1), 27);
  EXPECT_EQ(body.value("total_pages", -1), 2);
  ASSERT_EQ(body.value("data", json()).size(), 25u) << body.dump().substr(0, 400);
  for (unsigned i = 2; i < kCount; ++i)
    EXPECT_TRUE(body["data"].contains(NumberedName("n", i, ".png"))) << i;

  res = client.Get("/predictions?page=2");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  const auto second = nlohmann::ordered_json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(second.value("page", -1), 2);
  EXPECT_EQ(second.value("total_pages", -1), 2);
  std::vector<std::string> names;
  const auto second_data = second.value("data", nlohmann::ordered_json::object());
  for (const auto& [name, value] : second_data.items()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"n1.png", "n0.png"}));

  EXPECT_TRUE(IsCompatError(client.Get("/predictions?page=3"), 400, "Page out of range"));
}

// The original keyed its history by file name, so a second upload of "same.png" replaced the
// first. pneumo keeps both: the newest under the plain name, older ones on the same page as
// "same.png [<id>]".
TEST_P(HttpApiTest, CompatListShowsEveryUploadOfARepeatedNameTheNewestUnderThePlainName) {
  const json oldest = Upload(ChestPng(80), "same.png");
  const json other = Upload(ChestPng(81), "other.png");
  const json middle = Upload(ChestPng(82), "same.png");
  const json newest = Upload(ChestPng(83), "same.png");
  ASSERT_TRUE(oldest.is_object() && other.is_object() && middle.is_object() && newest.is_object());
  auto client = server_->Client();
  auto res = client.Get("/predictions");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  const auto body = nlohmann::ordered_json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(body.value("total_keys", -1), 4) << "total_keys counts every stored prediction";
  std::vector<std::string> names;
  const auto data = body.value("data", nlohmann::ordered_json::object());
  for (const auto& [name, value] : data.items()) names.push_back(name);
  const std::string middle_key = "same.png [" + middle.value("id", "?") + "]";
  const std::string oldest_key = "same.png [" + oldest.value("id", "?") + "]";
  EXPECT_EQ(names, (std::vector<std::string>{"same.png", middle_key, "other.png", oldest_key}));
  auto confidence_of = [&](const std::string& key) {
    return std::strtod(
        data.value(key, nlohmann::ordered_json::object()).value("confidence", "-1").c_str(),
        nullptr);
  };
  EXPECT_EQ(confidence_of("same.png"), newest.value("probability", -2.0));
  EXPECT_EQ(confidence_of(middle_key), middle.value("probability", -2.0));
  EXPECT_EQ(confidence_of(oldest_key), oldest.value("probability", -2.0));
}

TEST_P(HttpApiTest, CompatHealthHasTheFlaskShapeWithALocalTimestamp) {
  auto client = server_->Client();
  const std::time_t before = std::time(nullptr);
  auto res = client.Get("/health");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  json body = Json(res);
  ASSERT_TRUE(body.is_object()) << Describe(res);
  const std::string timestamp = body.value("timestamp", "");
  EXPECT_TRUE(IsLocalTimestamp(timestamp)) << timestamp;
  body.erase("timestamp");
  EXPECT_EQ(body,
            json::parse(R"({"status": "healthy", "model_loaded": true, "store_connected": true})"));
  // Local time now, give or take the request.
  std::tm local{};
  EXPECT_NE(::strptime(timestamp.c_str(), "%Y-%m-%d %H:%M:%S", &local), nullptr) << timestamp;
  local.tm_isdst = -1;
  const std::time_t at = std::mktime(&local);
  EXPECT_GE(at, before - 1) << timestamp << " is not the local time now";
  EXPECT_LE(at, std::time(nullptr) + 1) << timestamp << " is not the local time now";
}

TEST_P(HttpApiTest, EveryAnswerCarriesTheSecurityHeadersAndHealthDataIsNeverCached) {
  auto client = server_->Client();
  auto posted = UploadRaw(client, "/api/v1/predictions", ChestPng(31), "image/png");
  ASSERT_TRUE(posted && posted->status == 201) << Describe(posted);
  const std::string id = Json(posted)["id"];
  auto anonymous = server_->AnonymousClient();
  const std::vector<std::pair<std::string, httplib::Result>> answers = [&] {
    std::vector<std::pair<std::string, httplib::Result>> out;
    for (const std::string& path : std::vector<std::string>{
             "/api/v1/predictions/" + id, "/api/v1/predictions/" + id + "/image",
             "/api/v1/predictions/" + id + "/heatmap", "/api/v1/predictions", "/predictions",
             "/api/v1/nothing-here"})
      out.emplace_back(path, client.Get(path));
    out.emplace_back("/ (anonymous)", anonymous.Get("/"));
    out.emplace_back("/api/v1/predictions (anonymous)", anonymous.Get("/api/v1/predictions"));
    return out;
  }();
  for (const auto& [what, res] : answers) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(res) << "no answer";
    const std::string csp = res->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("style-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY");
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(res->get_header_value_count("Content-Security-Policy"), 1u);
    EXPECT_EQ(res->get_header_value_count("Cache-Control"), 1u);
    if (what.starts_with("/api/") || what.starts_with("/predictions")) {
      EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store") << "health data";
    }
  }
}

TEST_P(HttpApiTest, HealthzAndReadyzAnswerOk) {
  auto client = server_->Client();
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  EXPECT_EQ(Json(res), json::parse(R"({"status": "ok"})"));
  res = client.Get("/readyz");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  EXPECT_EQ(Json(res),
            json::parse(R"({"status": "ready", "checks": {"model": "ok", "store": "ok"}})"));
}

// ---------------------------------------------------------------------------------------------
// /metrics

// One parsed Prometheus text exposition: family name -> TYPE, and every sample line.
struct Exposition {
  std::map<std::string, std::string> types;
  struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  std::vector<Sample> samples;

  static Exposition Parse(const std::string& text) {
    Exposition out;
    std::istringstream lines(text);
    std::string line;
    static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$)");
    static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$)");
    static const std::regex kLabel(R"(([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\]|\\.)*)\")");
    while (std::getline(lines, line)) {
      std::smatch m;
      if (std::regex_match(line, m, kType)) {
        out.types[m[1]] = m[2];
      } else if (!line.empty() && line[0] != '#' && std::regex_match(line, m, kSample)) {
        Sample s{.name = m[1]};
        const std::string labels = m[3];
        for (std::sregex_iterator it(labels.begin(), labels.end(), kLabel), end; it != end; ++it) {
          s.labels[(*it)[1]] = (*it)[2];
        }
        s.value = std::strtod(m[4].str().c_str(), nullptr);
        out.samples.push_back(std::move(s));
      }
    }
    return out;
  }

  // Samples of `name` (e.g. "x_total" or "x_bucket") whose labels include all of `labels`.
  std::vector<Sample> Find(const std::string& name,
                           const std::map<std::string, std::string>& labels = {}) const {
    std::vector<Sample> found;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) match = match && s.labels.count(k) && s.labels.at(k) == v;
      if (match) found.push_back(s);
    }
    return found;
  }
};

TEST_P(HttpApiTest, MetricsExposeTheDocumentedFamilies) {
  ASSERT_TRUE(Upload(ChestPng(50), "m.png").is_object());
  auto client = server_->Client();
  ASSERT_TRUE(client.Get("/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N"));  // a 404
  ASSERT_TRUE(client.Get("/no/such/route-7f3a9c"));                           // another
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  const std::string content_type = res->get_header_value("Content-Type");
  EXPECT_EQ(MediaType(content_type), "text/plain");
  EXPECT_NE(content_type.find("version=0.0.4"), std::string::npos) << content_type;
  const Exposition m = Exposition::Parse(res->body);

  const std::map<std::string, std::string> families = {
      {"pneumo_http_requests_total", "counter"},  // by route and status
      {"pneumo_http_request_duration_seconds", "histogram"},
      {"pneumo_inference_duration_seconds", "histogram"},
      {"pneumo_batch_size", "histogram"},
      {"pneumo_queue_depth", "gauge"},
      {"pneumo_predictions_total", "counter"},  // by label
      {"pneumo_model_info", "gauge"},
      {"pneumo_http_connections_open", "gauge"},
      {"pneumo_http_connections_refused_total", "counter"},  // by reason, from the start
      {"process_cpu_seconds_total", "counter"},
      {"process_resident_memory_bytes", "gauge"},
  };
  for (const auto& [name, type] : families) {
    // Counters may be declared with or without the _total suffix in their TYPE line.
    std::string declared = m.types.count(name) ? m.types.at(name) : "";
    if (declared.empty() && name.ends_with("_total")) {
      const std::string base = name.substr(0, name.size() - 6);
      declared = m.types.count(base) ? m.types.at(base) : "";
    }
    EXPECT_EQ(declared, type) << "# TYPE " << name << " " << type << " missing from /metrics:\n"
                              << res->body.substr(0, 6000);
  }

  // Requests by route and status: the upload's 201 and the 404 are both counted.
  EXPECT_FALSE(
      m.Find("pneumo_http_requests_total", {{"route", "/api/v1/predictions"}, {"status", "201"}})
          .empty())
      << "no pneumo_http_requests_total{route=\"/api/v1/predictions\",status=\"201\"}";
  bool counted_404 = false;
  for (const auto& s : m.Find("pneumo_http_requests_total", {{"status", "404"}}))
    counted_404 |= s.value >= 1;
  EXPECT_TRUE(counted_404) << "the 404 is not counted by pneumo_http_requests_total";
  // Routes are labelled by template, never by the raw path: ids and junk URLs would otherwise
  // make a new time series each.
  for (const char* name :
       {"pneumo_http_requests_total", "pneumo_http_request_duration_seconds_count"}) {
    for (const auto& sample : m.Find(name)) {
      const std::string route = sample.labels.count("route") ? sample.labels.at("route") : "";
      EXPECT_EQ(route.find("01JD3F0Q5C2B6W9Y8K7T4R1M0N"), std::string::npos)
          << name << " route=" << route;
      EXPECT_EQ(route.find("route-7f3a9c"), std::string::npos) << name << " route=" << route;
    }
  }
  // One inference and one batch of at least one image were observed.
  const auto inferences = m.Find("pneumo_inference_duration_seconds_count");
  ASSERT_FALSE(inferences.empty());
  EXPECT_GE(inferences[0].value, 1);
  const auto batches = m.Find("pneumo_batch_size_count");
  ASSERT_FALSE(batches.empty());
  EXPECT_GE(batches[0].value, 1);
  EXPECT_FALSE(m.Find("pneumo_http_request_duration_seconds_bucket").empty());
  // Predictions by label: the one upload is counted under its label.
  double predicted = 0;
  for (const auto& s : m.Find("pneumo_predictions_total")) {
    EXPECT_TRUE(s.labels.count("label")) << "pneumo_predictions_total without a label label";
    predicted += s.value;
  }
  EXPECT_EQ(predicted, 1);
  // Model info names the model being served.
  const json card = ModelCard();
  EXPECT_FALSE(m.Find("pneumo_model_info",
                      {{"name", card.value("name", "?")}, {"version", card.value("version", "?")}})
                   .empty())
      << "pneumo_model_info{name=\"" << card.value("name", "?") << "\",version=\""
      << card.value("version", "?") << "\"} missing";
  const auto rss = m.Find("process_resident_memory_bytes");
  ASSERT_FALSE(rss.empty());
  EXPECT_GT(rss[0].value, 1e6);
}

TEST_P(HttpApiTest, RestartOnTheSameStoreKeepsEveryPrediction) {
  std::vector<json> posted;
  for (unsigned i = 0; i < 3; ++i)
    posted.push_back(Upload(ChestJpeg(60 + i), NumberedName("r", i, ".jpeg")));
  server_->Stop();
  const std::string problem = server_->Start();
  ASSERT_EQ(problem, "") << problem;
  auto client = server_->Client();
  const std::vector<json> listed = ListAll(client);
  ASSERT_EQ(listed.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(listed[i], posted[2 - i]) << "item " << i;
  for (const auto& p : posted) {
    auto res = client.Get(p["links"]["image"].get<std::string>().c_str());
    EXPECT_TRUE(res && res->status == 200 && res->body.starts_with("\xFF\xD8\xFF"))
        << Describe(res);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, HttpApiTest, ::testing::Values(Backend::kSqlite, Backend::kRedis),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Redis";
                         });

}  // namespace
}  // namespace pneumo::serve_testing
