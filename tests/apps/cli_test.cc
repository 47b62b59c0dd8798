// End-to-end tests of the pneumo binary: real processes, real files, real exit codes.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "core/sha256.h"
#include "store/result_store.h"
#include "testing/process.h"
#include "testing/synthetic_xrays.h"
#include "testing/temp_dir.h"

namespace pneumo {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct CliRun {
  int exit_code;
  std::string out;  // stdout only; stderr goes to the test log
};

CliRun Pneumo(const std::string& args) {
  const std::string command = std::string(PNEUMO_BINARY) + " " + args;
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const fs::path kShippedModel = fs::path(PNEUMO_SOURCE_DIR) / "models" / "default";

// A tiny model trained by the CLI on synthetic images, shared by the tests of this suite.
class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::WriteSyntheticFolder(dir_->path() / "data", 40, 3);
    const CliRun train =
        Pneumo("train --data " + (dir_->path() / "data").string() + " --out " +
               (dir_->path() / "model").string() +
               " --arch tiny --input-size 48 --epochs 3 --lr 0.01 --no-progress --log-level warn");
    ASSERT_EQ(train.exit_code, 0) << train.out;
    ASSERT_NE(train.out.find("model written to"), std::string::npos);
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path Model() { return dir_->path() / "model"; }
  static fs::path Data() { return dir_->path() / "data"; }
  static testing::TempDir* dir_;
};
testing::TempDir* CliTest::dir_ = nullptr;

TEST_F(CliTest, PredictJsonReportsEachFileAndFailsOnlyTheBadOnes) {
  testing::TempDir scratch;
  const fs::path bad = scratch.path() / "notes.png";
  std::ofstream(bad) << "this is not an image";
  const fs::path truncated = scratch.path() / "cut.png";
  {
    std::ifstream in(Data() / "NORMAL" / "IM-1000-0001.png", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  const CliRun run = Pneumo("predict --json --model " + Model().string() + " " +
                            (Data() / "PNEUMONIA").string() + " " + bad.string() + " " +
                            truncated.string() + " " + (scratch.path() / "missing.jpg").string());
  EXPECT_EQ(run.exit_code, 1);
  const json out = json::parse(run.out);
  ASSERT_EQ(out.size(), 43u);
  int errors = 0;
  for (const auto& item : out) {
    ASSERT_TRUE(item.contains("file"));
    if (item.contains("error")) {
      ++errors;
      EXPECT_FALSE(item["error"]["message"].get<std::string>().empty());
      continue;
    }
    EXPECT_TRUE(item["label"] == "PNEUMONIA" || item["label"] == "NORMAL");
    EXPECT_GE(item["probability"].get<double>(), 0.0);
    EXPECT_LE(item["probability"].get<double>(), 1.0);
    EXPECT_GT(item["threshold"].get<double>(), 0.0);
  }
  EXPECT_EQ(errors, 3);
  EXPECT_EQ(out[40]["error"]["code"], "unsupported_format");
  EXPECT_EQ(out[41]["error"]["code"], "corrupt_input");
  EXPECT_EQ(out[42]["error"]["code"], "not_found");
}

TEST_F(CliTest, PredictSucceedsWhenEveryFileIsGood) {
  const CliRun run = Pneumo("predict --model " + Model().string() + " " +
                            (Data() / "NORMAL" / "IM-1001-0001.png").string());
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("IM-1001-0001.png"), std::string::npos);
}

TEST_F(CliTest, PredictWithAStoreKeepsEveryGoodFileWithItsPreview) {
  testing::TempDir scratch;
  std::ofstream(scratch.path() / "notes.png") << "this is not an image";
  const std::string store = "sqlite:" + (scratch.path() / "results.db").string();
  const std::string inputs =
      (Data() / "NORMAL").string() + " " + (scratch.path() / "notes.png").string();
  const CliRun run =
      Pneumo("predict --json --model " + Model().string() + " --store " + store + " " + inputs);
  EXPECT_EQ(run.exit_code, 1) << "one file is bad";
  const json out = json::parse(run.out);
  ASSERT_EQ(out.size(), 41u);
  std::set<std::string> ids;
  for (const auto& item : out) {
    if (item.contains("error")) continue;
    EXPECT_EQ(item["id"].get<std::string>().size(), 26u);
    ids.insert(item["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(out[40]["error"]["code"], "unsupported_format");

  // The store holds exactly those 40, each with a JPEG preview (read back with the store library).
  auto opened = store::OpenStore(store);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto page = (*opened)->List(1, 100);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 40);
  for (const auto& record : page->items) {
    EXPECT_TRUE(ids.contains(record.id)) << record.id;
    auto preview = (*opened)->GetPreview(record.id);
    ASSERT_TRUE(preview);
    ASSERT_GT(preview->size(), 8u);
    EXPECT_EQ((*preview)[0], 0xFF) << "a JPEG preview";
    EXPECT_EQ((*preview)[1], 0xD8);
  }
}

TEST_F(CliTest, EvaluateJsonHasTheDocumentedKeysAndConsistentCounts) {
  testing::TempDir report;
  const CliRun run = Pneumo("evaluate --json --data " + Data().string() + " --model " +
                            Model().string() + " --report " + report.path().string());
  ASSERT_EQ(run.exit_code, 0);
  const json m = json::parse(run.out);
  for (const char* key : {"n", "accuracy", "auc", "sensitivity", "specificity", "ece", "confusion"})
    EXPECT_TRUE(m.contains(key)) << key;
  const auto& c = m["confusion"];
  EXPECT_EQ(m["n"], 80);
  EXPECT_EQ(c["tp"].get<int>() + c["fp"].get<int>() + c["tn"].get<int>() + c["fn"].get<int>(), 80);
  EXPECT_EQ(c["tp"].get<int>() + c["fn"].get<int>(), 40);
  EXPECT_NEAR(m["accuracy"].get<double>(), (c["tp"].get<double>() + c["tn"].get<double>()) / 80.0,
              1e-9);
  for (const char* file : {"index.html", "roc.svg", "calibration.svg", "confusion.svg"})
    EXPECT_TRUE(fs::exists(report.path() / file)) << file;
}

TEST_F(CliTest, EvaluateStressReportsEveryConditionTheMeanAndTheWorst) {
  testing::TempDir report;
  const CliRun run = Pneumo("evaluate --json --stress --data " + Data().string() + " --model " +
                            Model().string() + " --report " + report.path().string());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json m = json::parse(run.out);
  EXPECT_EQ(m["n"], 80) << "the clean figures keep their keys";
  const json& stress = m["stress"];
  ASSERT_GE(stress["conditions"].size(), 15u);
  EXPECT_EQ(stress["conditions"][0]["name"], "clean");
  EXPECT_DOUBLE_EQ(stress["conditions"][0]["accuracy"].get<double>(), m["accuracy"].get<double>());
  double sum = 0, worst = 1;
  for (const auto& c : stress["conditions"]) {
    EXPECT_EQ(c["n"], 80);
    sum += c["accuracy"].get<double>();
    worst = std::min(worst, c["accuracy"].get<double>());
  }
  EXPECT_NEAR(stress["mean"]["accuracy"].get<double>(), sum / stress["conditions"].size(), 1e-9);
  EXPECT_DOUBLE_EQ(stress["worst"]["accuracy"].get<double>(), worst);
  EXPECT_TRUE(stress["worst"]["conditions"].contains("specificity"));
  EXPECT_TRUE(fs::exists(report.path() / "calibration_stress.svg"));
  // The same run again gives the same figures: every condition is seeded.
  const CliRun again =
      Pneumo("evaluate --json --stress --data " + Data().string() + " --model " + Model().string());
  EXPECT_EQ(json::parse(again.out)["stress"], stress);
}

TEST_F(CliTest, CalibrateFitsOnTheStressValidationAndFitsTheOodCheck) {
  testing::TempDir copy;
  fs::copy(Model(), copy.path(), fs::copy_options::recursive);
  const CliRun run =
      Pneumo("calibrate --model " + copy.path().string() + " --data " + Data().string());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("stress conditions"), std::string::npos) << run.out;
  const json card = json::parse(std::ifstream(copy.path() / "card.json"));
  EXPECT_TRUE(card["validation"].contains("stress"));
  ASSERT_TRUE(card.contains("ood"));
  EXPECT_TRUE(fs::exists(copy.path() / "ood.pt"));
  EXPECT_GT(card["ood"]["threshold"].get<double>(), 0.0);
  EXPECT_LE(card["ood"]["fit"]["validation_flagged"].get<double>(), 0.05);
  // predict now reports the score.
  const CliRun predicted =
      Pneumo("predict --json --model " + copy.path().string() + " " + (Data() / "NORMAL").string());
  ASSERT_EQ(predicted.exit_code, 0);
  for (const auto& row : json::parse(predicted.out))
    EXPECT_TRUE(row.contains("ood_score")) << row.dump();
}

TEST_F(CliTest, EnsembleOfTwoMembersAveragesThemAndRefusesMismatchedSplits) {
  testing::TempDir second, ensemble, other_split;
  const CliRun train = Pneumo(
      "train --data " + Data().string() + " --out " + second.path().string() +
      " --arch tiny --input-size 48 --epochs 2 --lr 0.01 --seed 9 --no-progress --log-level warn");
  ASSERT_EQ(train.exit_code, 0) << train.out;
  const CliRun run = Pneumo("ensemble --member " + Model().string() + " --member " +
                            second.path().string() + " --out " + ensemble.path().string() +
                            " --data " + Data().string() + " --version 9.0.0");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json card = json::parse(std::ifstream(ensemble.path() / "card.json"));
  EXPECT_EQ(card["architecture"], "ensemble");
  ASSERT_EQ(card["members"].size(), 2u);
  EXPECT_TRUE(fs::exists(ensemble.path() / "member1.pt"));
  EXPECT_TRUE(fs::exists(ensemble.path() / "member2.pt"));
  EXPECT_TRUE(card.contains("ood"));
  const CliRun predicted = Pneumo("predict --json --model " + ensemble.path().string() + " " +
                                  (Data() / "PNEUMONIA").string());
  EXPECT_EQ(predicted.exit_code, 0) << predicted.out;

  const CliRun moved = Pneumo(
      "train --data " + Data().string() + " --out " + other_split.path().string() +
      " --arch tiny --input-size 48 --epochs 1 --split-seed 5 --no-progress --log-level warn");
  ASSERT_EQ(moved.exit_code, 0);
  testing::TempDir refused;
  const CliRun mismatch =
      Pneumo("ensemble --member " + Model().string() + " --member " + other_split.path().string() +
             " --out " + refused.path().string() + " --data " + Data().string() + " 2>&1");
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.out.find("other patients"), std::string::npos) << mismatch.out;
}

// A model directory broken in each way a copy or a bad export can break it: the commands that load
// it say what is wrong, naming the file, and exit with 1; never std::terminate (SIGABRT) or a
// crash.
TEST_F(CliTest, BrokenModelsGiveAClearMessageAndExitCodeNeverACrash) {
  auto card_json = [](const fs::path& dir) {
    std::ifstream in(dir / "card.json");
    return json::parse(in);
  };
  auto write_card = [](const fs::path& dir, const json& card) {
    std::ofstream(dir / "card.json") << card.dump(2);
  };
  auto write_weights = [](const fs::path& dir, const std::string& bytes, json card) {
    std::ofstream(dir / "weights.pt", std::ios::binary) << bytes;
    // The checksum is made to match, so that the loader itself must meet the broken bytes.
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    card["weights"]["sha256"] = Sha256Hex({data, bytes.size()});
    return card;
  };
  struct Case {
    const char* name;
    std::function<void(const fs::path&)> do_break;
    std::vector<std::string> message;  // all of these in stderr
  };
  const std::vector<Case> cases = {
      {"card_not_json",
       [&](const fs::path& d) { std::ofstream(d / "card.json") << "{\"name\": \"pneumo\", "; },
       {"card.json"}},
      {"card_field_of_wrong_type",
       [&](const fs::path& d) {
         json card = card_json(d);
         card["threshold"] = "high";
         write_card(d, card);
       },
       {"card", "threshold"}},
      {"weights_not_a_torch_archive",
       [&](const fs::path& d) {
         write_card(d, write_weights(d, std::string(4096, 'x'), card_json(d)));
       },
       {"weights"}},
      {"weights_truncated",
       [&](const fs::path& d) {
         std::ifstream in(d / "weights.pt", std::ios::binary);
         std::string bytes((std::istreambuf_iterator<char>(in)), {});
         write_card(d, write_weights(d, bytes.substr(0, bytes.size() / 2), card_json(d)));
       },
       {"weights"}},
      {"weights_of_another_architecture",
       [&](const fs::path& d) {
         json card = card_json(d);
         card["architecture"] = "pneumonet";
         write_card(d, card);
       },
       {"weights"}},
      {"weights_checksum_differs",
       [&](const fs::path& d) { std::ofstream(d / "weights.pt", std::ios::app) << "extra"; },
       {"SHA-256"}},
  };
  const fs::path image = fs::directory_iterator(Data() / "NORMAL")->path();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    testing::TempDir dir;
    const fs::path model = dir.path() / "model";
    fs::copy(Model(), model, fs::copy_options::recursive);
    c.do_break(model);
    for (const std::string command :
         {"predict --model " + model.string() + " " + image.string(),
          "serve --model " + model.string() + " --listen 127.0.0.1:0"}) {
      SCOPED_TRACE(command);
      const CliRun run = Pneumo(command + " 2>&1");
      EXPECT_EQ(run.exit_code, 2) << run.out;  // -1 (a signal) when it crashed
      for (const auto& words : c.message)
        EXPECT_NE(run.out.find(words), std::string::npos) << "no '" << words << "' in:\n"
                                                          << run.out;
    }
  }
}

TEST_F(CliTest, BadArgumentsGiveAMessageAndNonZeroExit) {
  EXPECT_NE(Pneumo("evaluate --data /nonexistent --model " + Model().string()).exit_code, 0);
  EXPECT_NE(Pneumo("predict --model /nonexistent " + (Data() / "NORMAL").string()).exit_code, 0);
  EXPECT_NE(Pneumo("train --data /nonexistent").exit_code, 0);
  EXPECT_NE(Pneumo("").exit_code, 0);
}

// A training run that outlasts any test (it is stopped by the ChildProcess destructor), serving on
// `port`.
std::unique_ptr<testing::ChildProcess> StartLongTraining(const fs::path& data, const fs::path& out,
                                                         int port) {
  return std::make_unique<testing::ChildProcess>(std::vector<std::string>{
      PNEUMO_BINARY, "train", "--data", data.string(), "--out", out.string(), "--arch", "tiny",
      "--input-size", "48", "--epochs", "100000", "--patience", "100000", "--no-progress",
      "--log-level", "warn", "--metrics-port", std::to_string(port)});
}

TEST_F(CliTest, TrainingServesPrometheusMetricsWhileItRuns) {
  testing::TempDir out;
  const int port = testing::FreePort();
  auto training = StartLongTraining(Data(), out.path(), port);
  httplib::Client client("127.0.0.1", port);
  std::string body;
  for (int attempt = 0; attempt < 200 && body.empty(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (auto res = client.Get("/metrics"); res && res->status == 200) body = res->body;
  }
  for (const char* name :
       {"pneumo_train_epoch", "pneumo_train_steps_total", "pneumo_train_loss",
        "pneumo_train_learning_rate", "pneumo_train_images_per_second", "pneumo_validation_auc"}) {
    EXPECT_NE(body.find(std::string("# TYPE ") + name), std::string::npos)
        << name << " missing from:\n"
        << body;
  }
}

TEST_F(CliTest, ARealPrometheusScrapesTheTrainer) {
  constexpr char kPrometheus[] = "/usr/bin/prometheus";
  ASSERT_TRUE(fs::exists(kPrometheus))
      << kPrometheus << " is missing: install Debian's prometheus (scripts/setup.sh does)";
  testing::TempDir dir;
  const int train_port = testing::FreePort();
  auto training = StartLongTraining(Data(), dir / "model", train_port);
  std::ofstream(dir / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n"
      << "scrape_configs:\n  - job_name: pneumo-train\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << train_port << "']\n";
  const int prometheus_port = testing::FreePort();
  testing::ChildProcess prometheus(
      {kPrometheus, "--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "tsdb").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)});
  httplib::Client api("127.0.0.1", prometheus_port);
  json result;
  for (int attempt = 0; attempt < 120; ++attempt) {  // up to 60 s; usually 2-3 scrapes
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto res = api.Get("/api/v1/query?query=pneumo_train_steps_total%20%3E%200");
    if (!res || res->status != 200) continue;
    result = json::parse(res->body, nullptr, false);
    if (!result.is_discarded() && !result["data"]["result"].empty()) break;
  }
  ASSERT_FALSE(result.is_discarded());
  ASSERT_FALSE(result["data"]["result"].empty())
      << "Prometheus never scraped a step count: " << result.dump();
  EXPECT_EQ(result["data"]["result"][0]["metric"]["job"], "pneumo-train");
  auto up = api.Get("/api/v1/query?query=up%7Bjob%3D%22pneumo-train%22%7D");
  ASSERT_TRUE(up);
  EXPECT_EQ(json::parse(up->body)["data"]["result"][0]["value"][1], "1");
}

TEST(ShippedModel, PredictsRealXraysFromTheTrainingFolder) {
  const auto train = testing::SharedTrainDir();
  if (train.empty()) GTEST_SKIP() << testing::kNoSharedData;
  ASSERT_TRUE(fs::exists(kShippedModel / "card.json")) << "the shipped model is missing";
  const CliRun run = Pneumo("predict --json " + (train / "NORMAL" / "IM-0115-0001.jpeg").string() +
                            " " + (train / "PNEUMONIA" / "person1000_bacteria_2931.jpeg").string());
  ASSERT_EQ(run.exit_code, 0);
  const json out = json::parse(run.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["label"], "NORMAL");
  EXPECT_EQ(out[1]["label"], "PNEUMONIA");
}

TEST(ShippedModel, EvaluatesARealSampleWell) {
  // 30 images of each class from train: seen in training, so this checks the pipeline end to end
  // (decode, resize, normalise, model, threshold), not generalisation.
  const auto train = testing::SharedTrainDir();
  if (train.empty()) GTEST_SKIP() << testing::kNoSharedData;
  testing::TempDir sample;
  for (const char* label : {"NORMAL", "PNEUMONIA"}) {
    fs::create_directories(sample.path() / label);
    int copied = 0;
    for (const auto& entry : fs::directory_iterator(train / label)) {
      if (copied++ == 30) break;
      fs::copy_file(entry.path(), sample.path() / label / entry.path().filename());
    }
  }
  const CliRun run = Pneumo("evaluate --json --data " + sample.path().string());
  ASSERT_EQ(run.exit_code, 0);
  const json m = json::parse(run.out);
  EXPECT_EQ(m["n"], 60);
  EXPECT_GT(m["accuracy"].get<double>(), 0.85);
  EXPECT_GT(m["auc"].get<double>(), 0.9);
}

}  // namespace
}  // namespace pneumo
