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

}  // namespace
}  // namespace pneumo::model
