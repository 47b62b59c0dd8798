// The shipped model's "not a chest X-ray" check, end to end through the prediction service:
// pictures that are no chest radiographs (synthetic ones made here, and scikit-image's sample
// pictures fetched from Debian's archive by scripts/fetch_ood_negatives.sh) must be marked for
// review, and real validation X-rays (../shared) must rarely be marked by the OOD check.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "data/image_folder.h"
#include "data/patient_split.h"
#include "serving/prediction_service.h"
#include "testing/temp_dir.h"

namespace pneumo::serving {
namespace {
namespace fs = std::filesystem;

struct Picture {
  std::string name;
  std::vector<std::uint8_t> bytes;
};

std::vector<std::uint8_t> Png(const cv::Mat& image) {
  std::vector<std::uint8_t> bytes;
  cv::imencode(".png", image, bytes);
  return bytes;
}

// Non-radiographs a doctor might upload by mistake, drawn deterministically.
std::vector<Picture> SyntheticNegatives() {
  std::vector<Picture> out;
  std::mt19937 rng(7);
  auto add = [&](std::string name, const cv::Mat& image) {
    out.push_back({std::move(name), Png(image)});
  };
  for (int i = 0; i < 3; ++i) {  // sensor noise
    cv::Mat noise(256, 256, CV_8UC1);
    cv::theRNG().state = 100 + i;
    cv::randu(noise, 0, 256);
    add("noise" + std::to_string(i), noise);
  }
  {  // a page of text
    cv::Mat page(400, 300, CV_8UC1, cv::Scalar(245));
    for (int line = 0; line < 18; ++line)
      cv::putText(page, "Patient referral letter, line " + std::to_string(line),
                  {12, 24 + 20 * line}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(20), 1);
    add("document", page);
  }
  {  // a screenshot of an application window
    cv::Mat shot(300, 480, CV_8UC1, cv::Scalar(230));
    cv::rectangle(shot, {0, 0, 480, 28}, cv::Scalar(60), cv::FILLED);
    for (int b = 0; b < 4; ++b)
      cv::rectangle(shot, {20 + 110 * b, 60, 90, 30}, cv::Scalar(180), cv::FILLED);
    cv::putText(shot, "Settings", {10, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(255), 1);
    cv::rectangle(shot, {20, 120, 440, 150}, cv::Scalar(255), cv::FILLED);
    add("screenshot", shot);
  }
  {  // a line drawing
    cv::Mat drawing(256, 256, CV_8UC1, cv::Scalar(255));
    for (int k = 0; k < 12; ++k)
      cv::line(drawing, {static_cast<int>(rng() % 256), static_cast<int>(rng() % 256)},
               {static_cast<int>(rng() % 256), static_cast<int>(rng() % 256)}, cv::Scalar(0), 2);
    cv::circle(drawing, {128, 128}, 60, cv::Scalar(0), 3);
    add("drawing", drawing);
  }
  {  // an axial CT slice: body ellipse, bright ring of bone, two dark lungs, a spine
    cv::Mat ct(256, 256, CV_8UC1, cv::Scalar(0));
    cv::ellipse(ct, {128, 128}, {110, 80}, 0, 0, 360, cv::Scalar(110), cv::FILLED);
    cv::ellipse(ct, {128, 128}, {104, 74}, 0, 0, 360, cv::Scalar(230), 4);
    cv::ellipse(ct, {85, 120}, {35, 50}, 0, 0, 360, cv::Scalar(15), cv::FILLED);
    cv::ellipse(ct, {171, 120}, {35, 50}, 0, 0, 360, cv::Scalar(15), cv::FILLED);
    cv::circle(ct, {128, 185}, 14, cv::Scalar(240), cv::FILLED);
    add("ct_slice", ct);
  }
  {  // an MR brain slice
    cv::Mat mr(256, 256, CV_8UC1, cv::Scalar(0));
    cv::ellipse(mr, {128, 128}, {90, 110}, 0, 0, 360, cv::Scalar(200), cv::FILLED);
    cv::ellipse(mr, {128, 128}, {80, 100}, 0, 0, 360, cv::Scalar(120), cv::FILLED);
    cv::ellipse(mr, {110, 128}, {10, 30}, 0, 0, 360, cv::Scalar(30), cv::FILLED);
    cv::ellipse(mr, {146, 128}, {10, 30}, 0, 0, 360, cv::Scalar(30), cv::FILLED);
    cv::GaussianBlur(mr, mr, {0, 0}, 2.0);
    add("mr_brain", mr);
  }
  {  // a colour photograph-like scene
    cv::Mat photo(240, 320, CV_8UC3);
    for (int r = 0; r < photo.rows; ++r)
      for (int c = 0; c < photo.cols; ++c)
        photo.at<cv::Vec3b>(r, c) = {static_cast<uchar>(200 - r / 2),
                                     static_cast<uchar>(120 + c / 4), 60};
    cv::circle(photo, {240, 60}, 30, cv::Scalar(0, 220, 255), cv::FILLED);
    add("photo", photo);
  }
  {  // a checkerboard calibration target
    cv::Mat board(256, 256, CV_8UC1);
    for (int r = 0; r < 256; ++r)
      for (int c = 0; c < 256; ++c) board.at<uchar>(r, c) = ((r / 32 + c / 32) % 2) ? 255 : 0;
    add("checkerboard", board);
  }
  {  // a smooth gradient
    cv::Mat gradient(256, 256, CV_8UC1);
    for (int r = 0; r < 256; ++r) gradient.row(r).setTo(r);
    add("gradient", gradient);
  }
  return out;
}

std::vector<Picture> PackagedNegatives(const fs::path& dir) {
  std::vector<Picture> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.push_back({entry.path().filename().string(), {std::istreambuf_iterator<char>(in), {}}});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

class OodNegativesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path model = fs::path(PNEUMO_SOURCE_DIR) / "models/default";
    auto predictor = model::Predictor::Load(model);
    auto explainer = model::Predictor::Load(model, 1);
    ASSERT_TRUE(predictor && explainer);
    ASSERT_TRUE((*predictor)->has_ood_statistics())
        << "the shipped model must carry OOD statistics";
    auto store = store::OpenStore("sqlite:" + (dir_.path() / "results.db").string());
    ASSERT_TRUE(store);
    auto service = PredictionService::Create(std::move(*predictor), std::move(*explainer),
                                             std::move(*store), {}, registry_);
    ASSERT_TRUE(service);
    service_ = std::move(*service);
  }

  testing::TempDir dir_;
  metrics::Registry registry_;
  std::unique_ptr<PredictionService> service_;
};

TEST_F(OodNegativesTest, MarksPicturesThatAreNoChestXraysForReview) {
  std::vector<Picture> pictures = SyntheticNegatives();
  const fs::path packaged(PNEUMO_OOD_NEGATIVES_DIR);
  auto from_debian = PackagedNegatives(packaged);
  ASSERT_GE(from_debian.size(), 20u)
      << "no pictures in " << packaged
      << ": scripts/setup.sh fetches them with scripts/fetch_ood_negatives.sh";
  pictures.insert(pictures.end(), from_debian.begin(), from_debian.end());
  int predicted = 0, flagged = 0, flagged_by_ood = 0;
  std::string missed;
  for (const auto& picture : pictures) {
    auto record = service_->Predict(picture.bytes, picture.name);
    if (!record) continue;  // refused outright (unreadable or unsafe): nobody gets a verdict
    ++predicted;
    const auto details = nlohmann::json::parse(record->details_json);
    const bool ood = details.value("out_of_distribution", false);
    flagged_by_ood += ood;
    if (record->review) {
      ++flagged;
    } else {
      missed += " " + picture.name + " (ood_score " +
                std::to_string(details.value("ood_score", 0.0)) + ")";
    }
    if (ood) {
      const auto reasons = details["review_reasons"];
      ASSERT_FALSE(reasons.empty());
      EXPECT_EQ(reasons.front(), kNotChestXrayReason) << "the OOD reason comes first";
    }
  }
  ASSERT_GE(predicted, 25);
  const double rate = static_cast<double>(flagged) / predicted;
  std::printf(
      "negative set: %d predicted, %d marked for review (%.3f), %d by the OOD check; missed:%s\n",
      predicted, flagged, rate, flagged_by_ood, missed.c_str());
  EXPECT_GE(rate, 0.95) << "missed:" << missed;
}

TEST_F(OodNegativesTest, RarelyFlagsRealValidationXrays) {
  const fs::path data(PNEUMO_SHARED_DATA_DIR);
  if (!fs::exists(data / "train"))
    GTEST_SKIP() << "SKIPPED: " << data << " not found (needs the real X-rays)";
  const auto& card = service_->card();
  auto images = data::ScanImageFolder(data, "train");
  ASSERT_TRUE(images);
  const auto split =
      data::SplitByPatient(*images, card.training["options"]["validation_fraction"].get<double>(),
                           card.training.value("split_seed", 42ULL));
  int predicted = 0, flagged = 0;
  for (std::size_t i = 0; i < split.validation.size();
       i += 2) {  // every other image: half the time
    std::ifstream in(split.validation[i].path, std::ios::binary);
    std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    auto record = service_->Predict(bytes, "x.jpeg");
    ASSERT_TRUE(record);
    ++predicted;
    flagged += nlohmann::json::parse(record->details_json).value("out_of_distribution", false);
  }
  const double rate = static_cast<double>(flagged) / predicted;
  std::printf("validation X-rays: %d predicted, %d flagged by the OOD check (%.4f)\n", predicted,
              flagged, rate);
  EXPECT_LE(rate, 0.05);
}

}  // namespace
}  // namespace pneumo::serving
