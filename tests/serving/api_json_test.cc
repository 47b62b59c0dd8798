#include "serving/api_json.h"

#include <gtest/gtest.h>

#include "image/decode.h"
#include "serving/prediction_service.h"

namespace pneumo::serving {
namespace {

store::PredictionRecord Record() {
  store::PredictionRecord r;
  r.id = "01JD3F0Q5C2B6W9Y8K7T4R1M0N";
  r.filename = "chest.png";
  r.label = "NORMAL";
  r.probability = 0.2;
  r.threshold = 0.66;
  r.model_name = "pneumonet";
  r.model_version = "1.0.0";
  r.created_at = "2026-11-26T15:02:11.532Z";
  r.details_json = R"({"review_reasons":["image is in colour"],"image":{"format":"png","width":640,"height":480}})";
  return r;
}

TEST(ApiJson, PredictionCarriesEveryDocumentedField) {
  const auto json = PredictionJson(Record());
  for (const char* key : {"id", "filename", "label", "probability", "threshold", "review", "review_reasons", "model",
                          "sha256", "created_at", "image", "timings_ms", "links"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["review_reasons"][0], "image is in colour");
  EXPECT_EQ(json["image"]["width"], 640);
  EXPECT_EQ(json["links"]["heatmap"], "/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N/heatmap");
  EXPECT_EQ(json["model"]["version"], "1.0.0");
}

TEST(ApiJson, SurvivesDamagedOrMissingDetails) {
  auto r = Record();
  for (const char* details : {"", "not json", "[1,2]", R"({"review_reasons":"x","image":3})"}) {
    r.details_json = details;
    const auto json = PredictionJson(r);
    EXPECT_TRUE(json["review_reasons"].is_array()) << details;
    EXPECT_TRUE(json["image"].is_object()) << details;
  }
}

TEST(ApiJson, CompatConfidenceIsThatOfThePredictedClass) {
  auto r = Record();
  EXPECT_DOUBLE_EQ(CompatPredictionJson(r)["confidence"].get<double>(), 0.8);
  r.label = "PNEUMONIA";
  r.probability = 0.9;
  EXPECT_DOUBLE_EQ(CompatPredictionJson(r)["confidence"].get<double>(), 0.9);
  EXPECT_EQ(CompatPredictionJson(r)["prediction"], "PNEUMONIA");
}

TEST(ApiJson, PageCountsPages) {
  store::PredictionPage page;
  page.total = 41;
  page.per_page = 20;
  page.items = {Record()};
  const auto json = PredictionPageJson(page);
  EXPECT_EQ(json["pages"], 3);
  EXPECT_EQ(json["items"].size(), 1u);
  page.total = 0;
  EXPECT_EQ(PredictionPageJson(page)["pages"], 0);
}

TEST(ApiJson, InvalidUtf8BecomesReplacementCharactersNotAnException) {
  auto r = Record();
  r.filename = std::string("chest\xff\xfe.png");
  std::string text;
  EXPECT_NO_THROW(text = JsonText(PredictionJson(r)));
  EXPECT_NE(text.find("chest\xef\xbf\xbd"), std::string::npos);
}

TEST(ApiJson, ErrorBodyHasCodeAndMessage) {
  const auto json = nlohmann::json::parse(ErrorBody("busy", "try again"));
  EXPECT_EQ(json["error"]["code"], "busy");
  EXPECT_EQ(json["error"]["message"], "try again");
}

TEST(CleanFilename, KeepsTheLastComponentWithoutControlCharacters) {
  EXPECT_EQ(CleanFilename("C:\\scans\\chest.jpeg", image::ImageFormat::kJpeg), "chest.jpeg");
  EXPECT_EQ(CleanFilename("../../etc/passwd", image::ImageFormat::kJpeg), "passwd");
  EXPECT_EQ(CleanFilename("a\nb\tc.png", image::ImageFormat::kPng), "abc.png");
  EXPECT_EQ(CleanFilename("", image::ImageFormat::kDicom), "upload.dicom");
  EXPECT_EQ(CleanFilename("dir/", image::ImageFormat::kPng), "upload.png");
  const std::string long_name(300, 'x');
  EXPECT_EQ(CleanFilename(long_name, image::ImageFormat::kPng).size(), 255u);
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";  // é, two bytes each
  const std::string cut = CleanFilename(accents, image::ImageFormat::kPng);
  EXPECT_EQ(cut.size(), 254u) << "cut at a character boundary";
}

}  // namespace
}  // namespace pneumo::serving
