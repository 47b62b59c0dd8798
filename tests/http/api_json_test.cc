#include "http/api_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "image/decode.h"

namespace pneumo::http {
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
  r.details_json =
      R"({"review_reasons":["image is in colour"],"image":{"format":"png","width":640,"height":480}})";
  return r;
}

TEST(ApiJson, PredictionCarriesEveryDocumentedField) {
  const auto json = PredictionJson(Record());
  for (const char* key :
       {"id", "filename", "label", "probability", "threshold", "review", "review_reasons", "model",
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

// Runs a block with TZ set, restoring it after: LocalTimestamp writes the server's local time.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST(CompatJson, PredictionHasTheOriginalFieldsAndFormats) {
  ScopedTimeZone utc("UTC");
  auto r = Record();
  r.created_at_ms = 1796148545457;  // 2026-12-01 18:09:05.457 UTC
  r.details_json = R"({"review_reasons":["image is in colour"],"ood_score":3.5})";
  const auto json = CompatPredictionJson(r, "data:image/png;base64,iVBO");
  EXPECT_EQ(json["prediction"], "Normal");
  EXPECT_EQ(json["confidence"], "20.00%")
      << "the probability of pneumonia, not of the predicted class";
  EXPECT_EQ(json["filename"], "chest.png");
  EXPECT_EQ(json["image"], "data:image/png;base64,iVBO");
  EXPECT_EQ(json["timestamp"], "2026-12-01 18:09:05.457000");
  EXPECT_EQ(json["probability"], 0.2);
  EXPECT_EQ(json["id"], r.id);
  EXPECT_EQ(json["threshold"], 0.66);
  EXPECT_EQ(json["review"], false);
  EXPECT_EQ(json["review_reasons"], nlohmann::json::array({"image is in colour"}));
  EXPECT_EQ(json["ood_score"], 3.5);

  r.label = "PNEUMONIA";
  r.probability = 0.97115;
  r.details_json = "{}";
  const auto pneumonia = CompatPredictionJson(r, "");
  EXPECT_EQ(pneumonia["prediction"], "Pneumonia");
  EXPECT_EQ(pneumonia["confidence"],
            "97.11%");  // 97.115 is 97.11499... in binary, as Python has it
  EXPECT_FALSE(pneumonia.contains("review_reasons"));
  EXPECT_FALSE(pneumonia.contains("ood_score"));
}

TEST(CompatJson, PercentHasTwoDecimals) {
  EXPECT_EQ(CompatPercent(0.9712), "97.12%");
  EXPECT_EQ(CompatPercent(1.0), "100.00%");
  EXPECT_EQ(CompatPercent(0.0), "0.00%");
  // Found by fuzz/json_body_fuzzer.cc: a corrupt record's probability overflowed the 32-character
  // buffer, cutting the number short and losing the '%'.
  EXPECT_EQ(CompatPercent(1e30), "100000000000000005366162204393472.00%");
  EXPECT_EQ(CompatPercent(0.00004), "0.00%");
  EXPECT_EQ(CompatPercent(0.123456), "12.35%");
}

// Expected values are what CPython 3 prints for str(x).
TEST(CompatJson, PythonFloatReprIsPythonsStrOfAFloat) {
  EXPECT_EQ(PythonFloatRepr(0.9712), "0.9712");
  EXPECT_EQ(PythonFloatRepr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(PythonFloatRepr(1.0), "1.0");
  EXPECT_EQ(PythonFloatRepr(0.0), "0.0");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(0.5), "0.5");
  EXPECT_EQ(PythonFloatRepr(123.0), "123.0");
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(0.00012), "0.00012");
  EXPECT_EQ(PythonFloatRepr(0.00001), "1e-05");
  EXPECT_EQ(PythonFloatRepr(2.5e-7), "2.5e-07");
  EXPECT_EQ(PythonFloatRepr(1.234e-100), "1.234e-100");
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(1.5e300), "1.5e+300");
  EXPECT_EQ(PythonFloatRepr(-2.75), "-2.75");
  EXPECT_EQ(PythonFloatRepr(static_cast<double>(0.9999979f)), "0.9999979138374329");
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(PythonFloatRepr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(PythonFloatRepr(std::nan("")), "nan");
  // Whatever the value, the text reads back as the same double.
  for (double x : {0.123456789012345678, 1.0 / 3.0, 2.0 / 3.0, 5e-324, 1.7976931348623157e308}) {
    EXPECT_EQ(std::strtod(PythonFloatRepr(x).c_str(), nullptr), x) << PythonFloatRepr(x);
  }
}

TEST(CompatJson, LocalTimestampIsTheServersLocalTimeWithMicroseconds) {
  {
    ScopedTimeZone utc("UTC");
    EXPECT_EQ(LocalTimestamp(1796148545457913), "2026-12-01 18:09:05.457913");
    EXPECT_EQ(LocalTimestamp(0), "1970-01-01 00:00:00.000000");
    EXPECT_EQ(LocalTimestamp(-1), "1969-12-31 23:59:59.999999");
  }
  {
    ScopedTimeZone tokyo("JST-9");  // POSIX TZ: nine hours east of UTC, no tz database needed
    EXPECT_EQ(LocalTimestamp(1796148545457913), "2026-12-02 03:09:05.457913");
  }
  const std::regex format(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$)");
  EXPECT_TRUE(std::regex_match(LocalTimestamp(1796148545000000), format));
}

TEST(CompatJson, PageIsNewestFirstWithTheOriginalCounts) {
  store::PredictionPage page;
  page.page = 2;
  page.per_page = kCompatPerPage;
  page.total = 51;
  for (const char* name : {"b.png", "a.png", "c.png"}) {
    auto r = Record();
    r.filename = name;
    r.id += name[0];
    page.items.push_back(r);
  }
  page.items[0].label = "PNEUMONIA";
  page.items[0].probability = 0.9712;
  const auto json = CompatPageJson(page);
  EXPECT_EQ(json["page"], 2);
  EXPECT_EQ(json["total_keys"], 51);
  EXPECT_EQ(json["items_per_page"], 25);
  EXPECT_EQ(json["total_pages"], 3);
  EXPECT_EQ(json["data"]["b.png"],
            nlohmann::ordered_json({{"prediction", "Pneumonia"}, {"confidence", "0.9712"}}));
  EXPECT_EQ(json["data"]["a.png"]["prediction"], "Normal");
  EXPECT_EQ(json["data"]["a.png"]["confidence"], "0.2");
  // ordered_json writes the keys in the order of the items, not sorted.
  const std::string text = OrderedJsonText(json);
  EXPECT_LT(text.find("b.png"), text.find("a.png"));
  EXPECT_LT(text.find("a.png"), text.find("c.png"));
  EXPECT_LT(text.find("\"data\""), text.find("\"page\""));

  page.items.clear();
  page.total = 0;
  EXPECT_EQ(OrderedJsonText(CompatPageJson(page)),
            R"({"data":{},"page":2,"total_keys":0,"items_per_page":25,"total_pages":0})");
}

TEST(CompatJson, ARepeatedNameOnAPageKeepsEveryPredictionTheNewestUnderThePlainName) {
  store::PredictionPage page;
  page.per_page = kCompatPerPage;
  page.total = 3;
  for (const char* id :
       {"01JD3F0Q5C2B6W9Y8K7T4R1M0C", "01JD3F0Q5C2B6W9Y8K7T4R1M0B", "01JD3F0Q5C2B6W9Y8K7T4R1M0A"}) {
    auto r = Record();
    r.id = id;
    page.items.push_back(r);
  }
  page.items[0].probability = 0.1;
  page.items[1].probability = 0.3;
  const auto data = CompatPageJson(page)["data"];
  ASSERT_EQ(data.size(), 3u) << data.dump();
  EXPECT_EQ(data["chest.png"]["confidence"], "0.1");
  EXPECT_EQ(data["chest.png [01JD3F0Q5C2B6W9Y8K7T4R1M0B]"]["confidence"], "0.3");
  EXPECT_EQ(data["chest.png [01JD3F0Q5C2B6W9Y8K7T4R1M0A]"]["confidence"], "0.2");
}

TEST(CompatJson, HealthAndErrorsHaveTheOriginalShapes) {
  ScopedTimeZone utc("UTC");
  EXPECT_EQ(CompatHealthJson(true, 1796148545457913),
            nlohmann::json({{"status", "healthy"},
                            {"timestamp", "2026-12-01 18:09:05.457913"},
                            {"model_loaded", true},
                            {"store_connected", true}}));
  EXPECT_EQ(CompatHealthJson(false, 0)["status"], "unhealthy");
  EXPECT_EQ(CompatHealthJson(false, 0)["store_connected"], false);
  EXPECT_EQ(CompatErrorBody("No file uploaded"), R"({"error":"No file uploaded"})");
}

TEST(CompatJson, DataUrlCarriesTheBytesInBase64) {
  const std::vector<std::uint8_t> bytes = {0x89, 'P', 'N', 'G', 0x0d};
  EXPECT_EQ(DataUrl("image/png", bytes), "data:image/png;base64,iVBORw0=");
  EXPECT_EQ(DataUrl("image/jpeg", {}), "data:image/jpeg;base64,");
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

}  // namespace
}  // namespace pneumo::http
