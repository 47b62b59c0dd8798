// The node and STOW-RS with a stand-in for the model (a fixed probability), a real SQLite store, a
// real send queue and pneumo's own SCP as the destination.
#include "dicom/dicom_node.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chest_dicom.h"
#include "dicom/stow.h"
#include "image/dicom_attributes.h"
#include "recording_sink.h"
#include "serving/prediction_id.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace pneumo::dicom {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::span<const std::uint8_t> Bytes(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

class DicomNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::OpenStore("sqlite:" + (dir_ / "results.db").string());
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    auto scp = StorageScp::Start({.port = pacs_port_}, pacs_);
    ASSERT_TRUE(scp) << scp.error().ToString();
    scp_ = std::move(*scp);
    SendOptions fast;
    fast.initial_backoff = 100ms;
    auto queue = SendQueue::Open(dir_ / "spool",
                                 {.ae_title = "PNEUMO", .host = "127.0.0.1", .port = pacs_port_},
                                 fast, registry_);
    ASSERT_TRUE(queue) << queue.error().ToString();
    queue_ = std::move(*queue);
    node_ = std::make_unique<DicomNode>(Backend(), queue_.get(), NodeOptions{}, registry_);
  }

  // Stores a record as PredictionService::Predict would, with a fixed probability.
  NodeBackend Backend() {
    return NodeBackend{.predict = [this](std::span<const std::uint8_t> bytes,
                                         std::string_view name) -> Result<store::PredictionRecord> {
                         ++predictions_;
                         if (busy_) {
                           return Fail(ErrorCode::kBusy, "busy");
                         }
                         auto a = image::ReadDicomAttributes(bytes);
                         store::PredictionRecord r;
                         r.created_at_ms = serving::NowUnixMs();
                         r.id = serving::NewPredictionId(r.created_at_ms);
                         r.filename = std::string(name);
                         r.label = "PNEUMONIA";
                         r.probability = 0.91;
                         r.threshold = 0.75;
                         r.model_name = "stand-in";
                         r.model_version = "0";
                         r.dicom = {.study_instance_uid = a->study_instance_uid,
                                    .series_instance_uid = a->series_instance_uid,
                                    .sop_instance_uid = a->sop_instance_uid,
                                    .sop_class_uid = a->sop_class_uid,
                                    .accession_number = a->accession_number,
                                    .modality = a->modality,
                                    .patient_id = a->patient_id};
                         if (auto put = store_->Put(r); !put) {
                           return std::unexpected(put.error());
                         }
                         return r;
                       },
                       .heatmap = [](std::string_view) -> Result<std::vector<std::uint8_t>> {
                         return testing::HeatmapPng();
                       },
                       .store = store_.get()};
  }

  pneumo::testing::TempDir dir_;
  int pacs_port_ = pneumo::testing::FreePort();
  testing::RecordingSink pacs_;
  std::unique_ptr<StorageScp> scp_;
  metrics::Registry registry_;
  std::unique_ptr<store::ResultStore> store_;
  std::unique_ptr<SendQueue> queue_;
  std::unique_ptr<DicomNode> node_;
  int predictions_ = 0;
  bool busy_ = false;
  const cv::Mat chest_ = testing::RealOrSyntheticChest();
};

TEST_F(DicomNodeTest, PredictsAnEligibleInstanceLogsItAndSendsSrAndSecondaryCapture) {
  const auto bytes = testing::MakeChestDicom(chest_);
  const ReceiveOutcome outcome = node_->Receive(bytes, "c-store from ORTHANC");
  EXPECT_EQ(outcome.status, StoreStatus::kSuccess);
  EXPECT_EQ(outcome.logged.outcome, "predicted");
  ASSERT_FALSE(outcome.logged.prediction_id.empty());
  auto log = store_->ListReceived(10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].source, "c-store from ORTHANC");
  EXPECT_EQ((*log)[0].accession_number, "ACC-1001");
  auto listed = store_->List({.page = 1, .per_page = 10, .accession_number = "ACC-1001"});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->total, 1);

  ASSERT_TRUE(pacs_.WaitFor(2, 10s)) << "SR and Secondary Capture should reach the PACS";
  std::vector<std::string> classes;
  for (const auto& r : pacs_.received()) classes.push_back(r.sop_class_uid);
  EXPECT_NE(std::ranges::find(classes, UID_ComprehensiveSRStorage), classes.end());
  EXPECT_NE(std::ranges::find(classes, UID_SecondaryCaptureImageStorage), classes.end());
  EXPECT_EQ(node_->SendsFor(outcome.logged.prediction_id).size(), 2u);

  auto sr = node_->StructuredReport(outcome.logged.prediction_id);
  ASSERT_TRUE(sr) << sr.error().ToString();
  auto a = image::ReadDicomAttributes(*sr);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->modality, "SR");
  EXPECT_EQ(a->study_instance_uid, "1.2.826.0.1.3680043.10.1001");
  EXPECT_FALSE(node_->StructuredReport("unknown-id"));
}

TEST_F(DicomNodeTest, AcknowledgesACtInstanceAndLogsItAsNotEligible) {
  const auto ct = testing::MakeChestDicom(
      chest_, {.modality = "CT", .sop_class = UID_CTImageStorage, .sop_uid = "1.2.3.4.5.6"});
  const ReceiveOutcome outcome = node_->Receive(ct, "c-store from ORTHANC");
  EXPECT_EQ(outcome.status, StoreStatus::kSuccess);
  EXPECT_EQ(outcome.logged.outcome, "not_eligible");
  EXPECT_NE(outcome.logged.reason.find("CT"), std::string::npos);
  EXPECT_EQ(predictions_, 0) << "an ineligible instance must not reach the model";
  auto log = store_->ListReceived(10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].outcome, "not_eligible");
  EXPECT_EQ((*log)[0].sop_instance_uid, "1.2.3.4.5.6");
  EXPECT_NE(
      registry_.Render().find("pneumo_dicom_instances_received_total{outcome=\"not_eligible\"} 1"),
      std::string::npos);
}

TEST_F(DicomNodeTest, AnswersGarbageWithCannotUnderstandAndBusyWithOutOfResources) {
  const std::string junk(500, 'x');
  EXPECT_EQ(node_->Receive(Bytes(junk), "stow-rs").status, StoreStatus::kCannotUnderstand);
  busy_ = true;
  const auto outcome = node_->Receive(testing::MakeChestDicom(chest_), "stow-rs");
  EXPECT_EQ(outcome.status, StoreStatus::kOutOfResources);
  EXPECT_EQ(outcome.logged.outcome, "failed");
}

std::string Multipart(const std::vector<std::vector<std::uint8_t>>& parts,
                      const std::string& boundary = "b0undary") {
  std::string body = "preamble to ignore\r\n";
  for (const auto& part : parts) {
    body += "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
    body.append(part.begin(), part.end());
    body += "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

TEST(ParseMultipartRelated, SplitsPartsWithQuotedOrBareBoundaries) {
  const std::vector<std::uint8_t> a = {'A', '\r', '\n', '-', '-'}, b = {0, 1, 2};
  const std::string body = Multipart({a, b});
  for (const char* type : {"multipart/related; type=\"application/dicom\"; boundary=b0undary",
                           "Multipart/Related;boundary=\"b0undary\";type=application/dicom"}) {
    auto parts = ParseMultipartRelated(type, Bytes(body));
    ASSERT_TRUE(parts) << type << ": " << parts.error().ToString();
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ(std::vector<std::uint8_t>((*parts)[0].body.begin(), (*parts)[0].body.end()), a);
    EXPECT_EQ(std::vector<std::uint8_t>((*parts)[1].body.begin(), (*parts)[1].body.end()), b);
    EXPECT_EQ((*parts)[0].content_type, "application/dicom");
  }
}

TEST(ParseMultipartRelated, RefusesMalformedBodies) {
  const std::string good = Multipart({{1, 2, 3}});
  const std::string type = "multipart/related; type=\"application/dicom\"; boundary=b0undary";
  EXPECT_FALSE(ParseMultipartRelated("application/dicom", Bytes(good)));
  EXPECT_FALSE(ParseMultipartRelated("multipart/related; type=\"application/dicom\"", Bytes(good)));
  auto wrong_type = ParseMultipartRelated(
      "multipart/related; type=\"application/dicom+xml\"; boundary=b0undary", Bytes(good));
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().code, ErrorCode::kUnsupportedFormat);
  EXPECT_FALSE(ParseMultipartRelated(type, Bytes(good.substr(0, good.size() - 20))));  // truncated
  EXPECT_FALSE(ParseMultipartRelated(type, Bytes("no boundary in here at all")));
  EXPECT_FALSE(ParseMultipartRelated(type, Bytes("--b0undary--\r\n")));  // no parts
  EXPECT_FALSE(ParseMultipartRelated(type, Bytes("--b0undary\r\nContent-Type: x")));
  EXPECT_FALSE(ParseMultipartRelated(type, Bytes("")));
}

TEST_F(DicomNodeTest, StowAnswersTheReferencedAndFailedSopSequences) {
  const std::string type = "multipart/related; type=\"application/dicom\"; boundary=b0undary";
  const auto chest = testing::MakeChestDicom(chest_);
  const auto ct = testing::MakeChestDicom(
      chest_, {.modality = "CT", .sop_class = UID_CTImageStorage, .sop_uid = "1.2.3.9"});
  const std::vector<std::uint8_t> junk(300, 'j');

  StowResponse all = Stow(type, Bytes(Multipart({chest, ct})), *node_);
  EXPECT_EQ(all.http_status, 200) << all.body;
  json body = json::parse(all.body);
  ASSERT_EQ(body["00081199"]["Value"].size(), 2u);
  EXPECT_EQ(body["00081199"]["Value"][0]["00081155"]["Value"][0],
            "1.2.826.0.1.3680043.10.1001.1.1");
  EXPECT_FALSE(body.contains("00081198"));

  StowResponse some = Stow(type, Bytes(Multipart({chest, junk})), *node_);
  EXPECT_EQ(some.http_status, 202) << some.body;
  body = json::parse(some.body);
  ASSERT_EQ(body["00081198"]["Value"].size(), 1u);
  EXPECT_EQ(body["00081198"]["Value"][0]["00081197"]["Value"][0], 0xC000);
  EXPECT_EQ(body["00081198"]["Value"][0]["00081197"]["vr"], "US");

  StowResponse none = Stow(type, Bytes(Multipart({junk})), *node_);
  EXPECT_EQ(none.http_status, 409);
  StowResponse bad = Stow(type, Bytes("garbage"), *node_);
  EXPECT_EQ(bad.http_status, 400);
  EXPECT_TRUE(json::parse(bad.body).contains("error"));
  EXPECT_EQ(Stow("multipart/related; type=\"image/jpeg\"; boundary=b0undary",
                 Bytes(Multipart({chest})), *node_)
                .http_status,
            415);
}

}  // namespace
}  // namespace pneumo::dicom
