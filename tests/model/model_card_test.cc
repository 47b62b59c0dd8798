#include "model/model_card.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace pneumo::model {
namespace {

ModelCard Example() {
  ModelCard card;
  card.name = "pneumo-test";
  card.version = "2.1.0";
  card.architecture = "tiny";
  card.input_size = 64;
  card.normalization = {"dataset", 0.48f, 0.23f};
  card.temperature = 1.7;
  card.threshold = 0.42;
  card.threshold_rule = "Youden";
  card.validation = {{"auc", 0.99}};
  card.training = {{"seed", 42}};
  return card;
}

TEST(ModelCard, RoundTripsThroughItsFile) {
  testing::TempDir dir;
  ASSERT_TRUE(SaveModelCard(Example(), dir.path()));
  auto loaded = LoadModelCard(dir.path() / kCardFile);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(ToJson(*loaded), ToJson(Example()));
}

TEST(ModelCard, RejectsImpossibleValuesWithTheFieldName) {
  auto json = ToJson(Example());
  json["threshold"] = 1.5;
  auto bad = ModelCardFromJson(json);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("threshold"), std::string::npos);
  json = ToJson(Example());
  json["normalization"]["mode"] = "zscore";
  EXPECT_EQ(ModelCardFromJson(json).error().code, ErrorCode::kModelError);
  json = ToJson(Example());
  json.erase("architecture");
  EXPECT_EQ(ModelCardFromJson(json).error().code, ErrorCode::kModelError);
}

TEST(ModelCard, ReportsMissingAndMalformedFiles) {
  testing::TempDir dir;
  EXPECT_EQ(LoadModelCard(dir.path()).error().code, ErrorCode::kNotFound);
  std::ofstream(dir.path() / kCardFile) << "{ not json";
  EXPECT_EQ(LoadModelCard(dir.path()).error().code, ErrorCode::kModelError);
}

// Found with fuzz/model_card_fuzzer.cc (on a hand-made input: 2 minutes of fuzzing had not got
// there): get<int>() of "size": 1e300 is undefined behaviour (UBSan:
// "1e+300 is outside the range of representable values of type 'int'"); counts and seeds must be
// non-negative integers before they are converted.
TEST(ModelCard, RefusesCountsAndSeedsThatAreNoNonNegativeIntegers) {
  for (const nlohmann::json& size : {nlohmann::json(1e300), nlohmann::json(-64),
                                     nlohmann::json(64.5), nlohmann::json(4294967360ULL)}) {
    auto json = ToJson(Example());
    json["input"]["size"] = size;
    auto bad = ModelCardFromJson(json);
    ASSERT_FALSE(bad) << size;
    EXPECT_NE(bad.error().message.find("input"), std::string::npos) << bad.error().message;
  }
  auto with_split = [] {
    auto json = ToJson(Example());
    json["training"] = {{"split_seed", 42},
                        {"options", {{"validation_fraction", 0.1}}},
                        {"data", {{"fingerprint_sha256", "ab"}}}};
    json["validation"]["split"] = {{"images", 10}, {"patients", 5}};
    return json;
  };
  ASSERT_TRUE(ModelCardFromJson(with_split()));
  for (const char* pointer :
       {"/training/split_seed", "/validation/split/images", "/validation/split/patients"}) {
    for (const nlohmann::json& value : {nlohmann::json(1e300), nlohmann::json(-1)}) {
      auto json = with_split();
      json[nlohmann::json::json_pointer(pointer)] = value;
      EXPECT_FALSE(ModelCardFromJson(json)) << pointer << " = " << value;
    }
  }
}

TEST(ModelCard, TheShippedCardSurvivesToJsonAndBack) {
  auto shipped = LoadModelCard(std::filesystem::path(PNEUMO_SOURCE_DIR) / "models/default");
  ASSERT_TRUE(shipped) << shipped.error().ToString();
  auto again = ModelCardFromJson(ToJson(*shipped));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(ToJson(*again), ToJson(*shipped));
}

}  // namespace
}  // namespace pneumo::model
