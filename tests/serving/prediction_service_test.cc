// The prediction service with the shipped model (models/default, always in the repository) and a
// real SQLite store in a temporary directory.
#include "serving/prediction_service.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "serving/preview.h"
#include "testing/synthetic_xrays.h"
#include "testing/temp_dir.h"

namespace pneumo::serving {
namespace {

std::vector<std::uint8_t> Encode(const cv::Mat& image, const char* extension) {
  std::vector<std::uint8_t> bytes;
  cv::imencode(extension, image, bytes);
  return bytes;
}

std::vector<std::uint8_t> XrayPng(unsigned seed, int side = 256) {
  std::mt19937 rng(seed);
  return Encode(testing::SyntheticXray(seed % 2 == 0, rng, side), ".png");
}

class PredictionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open({}); }

  void Open(ServiceOptions options) {
    service_.reset();
    const std::filesystem::path model = std::filesystem::path(PNEUMO_SOURCE_DIR) / "models/default";
    auto predictor = model::Predictor::Load(model);
    auto explainer = model::Predictor::Load(model, 1);
    ASSERT_TRUE(predictor && explainer);
    auto store = store::OpenStore("sqlite:" + (dir_.path() / "results.db").string());
    ASSERT_TRUE(store) << store.error().ToString();
    registry_ = std::make_unique<metrics::Registry>();
    auto service = PredictionService::Create(std::move(*predictor), std::move(*explainer),
                                             std::move(*store), options, *registry_);
    ASSERT_TRUE(service) << service.error().ToString();
    service_ = std::move(*service);
  }

  std::int64_t Total() { return service_->store().List(1, 1)->total; }

  testing::TempDir dir_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<PredictionService> service_;
};

TEST_F(PredictionServiceTest, PredictsAndStoresEverythingAboutTheUpload) {
  const auto bytes = XrayPng(2, 300);
  auto record = service_->Predict(bytes, "scans/chest 1.png");
  ASSERT_TRUE(record) << record.error().ToString();
  EXPECT_EQ(record->filename, "chest 1.png");
  EXPECT_EQ(record->label,
            record->probability >= service_->card().threshold ? "PNEUMONIA" : "NORMAL");
  EXPECT_GT(record->probability, 0.0);
  EXPECT_LT(record->probability, 1.0);
  EXPECT_EQ(record->sha256.size(), 64u);
  EXPECT_EQ(record->model_version, service_->card().version);
  EXPECT_GT(record->inference_ms, 0.0);

  auto stored = service_->store().Get(record->id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->probability, record->probability);
  const auto details = nlohmann::json::parse(stored->details_json);
  EXPECT_EQ(details["image"]["width"], 300);
  EXPECT_EQ(details["image"]["format"], "png");
  auto preview = DecodeGray(stored->preview_jpeg);
  ASSERT_TRUE(preview);
  EXPECT_EQ(preview->size(), cv::Size(300, 300)) << "under 384 px: kept at full size";
}

TEST_F(PredictionServiceTest, SameImageAsJpegOrPngGivesNearlyTheSameAnswer) {
  std::mt19937 rng(5);
  const cv::Mat image = testing::SyntheticXray(true, rng, 512);
  auto png = service_->Predict(Encode(image, ".png"), "a.png");
  auto jpeg = service_->Predict(Encode(image, ".jpg"), "a.jpg");
  ASSERT_TRUE(png && jpeg);
  EXPECT_NEAR(png->probability, jpeg->probability, 0.05);
}

TEST_F(PredictionServiceTest, RefusesBadInputAndStoresNothing) {
  const std::vector<std::uint8_t> empty;
  const std::vector<std::uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  auto jpeg = Encode(cv::Mat(64, 64, CV_8UC1, cv::Scalar(80)), ".jpg");
  jpeg.resize(jpeg.size() / 2);
  struct Case {
    const std::vector<std::uint8_t>* bytes;
    ErrorCode code;
  } cases[] = {{&empty, ErrorCode::kEmptyInput},
               {&text, ErrorCode::kUnsupportedFormat},
               {&jpeg, ErrorCode::kCorruptInput}};
  for (const auto& c : cases) {
    auto r = service_->Predict(*c.bytes, "bad");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, c.code) << r.error().ToString();
    EXPECT_FALSE(r.error().message.empty());
  }
  EXPECT_EQ(Total(), 0);
}

TEST_F(PredictionServiceTest, ConcurrentUploadsShareForwardPasses) {
  ServiceOptions options;
  options.batching.max_wait = std::chrono::milliseconds(50);  // generous, so the batch surely forms
  Open(options);
  constexpr int kUploads = 12;
  std::vector<std::jthread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kUploads; ++i) {
    threads.emplace_back([&, i] { ok += service_->Predict(XrayPng(i), "x.png").has_value(); });
  }
  threads.clear();
  EXPECT_EQ(ok, kUploads);
  EXPECT_EQ(Total(), kUploads);
  const std::string text = registry_->Render();
  const auto count_at = text.find("pneumo_batch_size_count ");
  ASSERT_NE(count_at, std::string::npos);
  const int batches = std::stoi(text.substr(count_at + std::strlen("pneumo_batch_size_count ")));
  EXPECT_LT(batches, kUploads) << "some uploads were batched together";
}

TEST_F(PredictionServiceTest, FlagsAColourPhotographForReview) {
  cv::Mat photo(300, 300, CV_8UC3);
  cv::theRNG().state = 11;
  cv::randu(photo, cv::Scalar(0, 0, 0), cv::Scalar(255, 255, 255));
  auto r = service_->Predict(Encode(photo, ".png"), "holiday.png");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->review);
  EXPECT_NE(r->details_json.find("colour"), std::string::npos) << r->details_json;
}

TEST_F(PredictionServiceTest, HeatmapIsAColourOverlayOfThePreviewAndIsCached) {
  auto r = service_->Predict(XrayPng(4, 500), "x.png");
  ASSERT_TRUE(r);
  auto png = service_->Heatmap(r->id);
  ASSERT_TRUE(png) << png.error().ToString();
  const cv::Mat heatmap = cv::imdecode(*png, cv::IMREAD_UNCHANGED);
  ASSERT_EQ(heatmap.type(), CV_8UC3);
  EXPECT_EQ(heatmap.size(), cv::Size(384, 384)) << "the preview's size: longest side 384";
  auto again = service_->Heatmap(r->id);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *png);
  EXPECT_NE(registry_->Render().find("pneumo_heatmap_duration_seconds_count 1\n"),
            std::string::npos)
      << "the second request came from the cache";
  EXPECT_EQ(service_->Heatmap("01JD3F0Q5C2B6W9Y8K7T4R1M0N").error().code, ErrorCode::kNotFound);
}

TEST_F(PredictionServiceTest, TimesOutInsteadOfWaitingForever) {
  ServiceOptions options;
  options.request_timeout = std::chrono::milliseconds(1);
  options.batching.max_wait = std::chrono::milliseconds(200);  // the batch cannot start in time
  Open(options);
  auto r = service_->Predict(XrayPng(1), "x.png");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(Total(), 0);
}

}  // namespace
}  // namespace pneumo::serving
