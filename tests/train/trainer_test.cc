#include "train/trainer.h"

#include <gtest/gtest.h>

#include "model/model_card.h"
#include "model/predictor.h"
#include "testing/synthetic_xrays.h"
#include "testing/temp_dir.h"

namespace pneumo::train {
namespace {

TrainOptions SmallRun(const testing::TempDir& dir) {
  TrainOptions o;
  o.data_dir = dir.path() / "data";
  o.output_dir = dir.path() / "model";
  o.architecture = "tiny";
  o.input_size = 48;
  o.epochs = 4;
  o.batch_size = 16;
  o.learning_rate = 1e-2;
  o.validation_fraction = 0.25;
  o.threads = 2;
  o.progress = false;
  return o;
}

TEST(Trainer, LowersTheLossAndExportsAUsableModel) {
  testing::TempDir dir;
  testing::WriteSyntheticFolder(dir.path() / "data", 48, 11);
  const TrainOptions options = SmallRun(dir);
  auto report = Train(options);
  ASSERT_TRUE(report) << report.error().ToString();
  ASSERT_EQ(report->epochs.size(), 4u);
  EXPECT_LT(report->epochs.back().train_loss, report->epochs.front().train_loss);
  EXPECT_GT(report->validation.auc, 0.8);
  EXPECT_GT(report->temperature, 0.0);
  EXPECT_GT(report->threshold, 0.0);
  EXPECT_LT(report->threshold, 1.0);

  auto card = model::LoadModelCard(options.output_dir);
  ASSERT_TRUE(card) << card.error().ToString();
  EXPECT_EQ(card->architecture, "tiny");
  EXPECT_EQ(card->input_size, 48);
  EXPECT_EQ(card->training["seed"], 42);
  EXPECT_EQ(card->training["data"]["fingerprint_sha256"].get<std::string>().size(), 64u);
  EXPECT_DOUBLE_EQ(card->threshold, report->threshold);
  EXPECT_TRUE(card->validation.contains("auc"));
  auto predictor = model::Predictor::Load(options.output_dir);
  ASSERT_TRUE(predictor) << predictor.error().ToString();
}

TEST(Trainer, IsReproducibleWithAFixedSeed) {
  testing::TempDir a, b;
  testing::WriteSyntheticFolder(a.path() / "data", 24, 5);
  testing::WriteSyntheticFolder(b.path() / "data", 24, 5);
  auto oa = SmallRun(a), ob = SmallRun(b);
  oa.epochs = ob.epochs = 2;
  oa.threads = ob.threads = 1;  // multi-threaded reductions may round differently
  auto ra = Train(oa), rb = Train(ob);
  ASSERT_TRUE(ra && rb);
  EXPECT_DOUBLE_EQ(ra->epochs.back().train_loss, rb->epochs.back().train_loss);
  EXPECT_EQ(model::LoadModelCard(oa.output_dir)->weights_sha256,
            model::LoadModelCard(ob.output_dir)->weights_sha256);
}

TEST(Trainer, ExplainsBadOptions) {
  testing::TempDir dir;
  auto options = SmallRun(dir);
  EXPECT_EQ(Train(options).error().code, ErrorCode::kNotFound);  // no data folder
  testing::WriteSyntheticFolder(dir.path() / "data", 4, 1);
  options.architecture = "alexnet";
  EXPECT_EQ(Train(options).error().code, ErrorCode::kInvalidArgument);
  options.architecture = "tiny";
  options.epochs = 0;
  EXPECT_EQ(Train(options).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pneumo::train
