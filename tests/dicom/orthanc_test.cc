// pneumo against a real PACS: Debian's Orthanc (with its DICOMweb plugin) on free ports, with a
// configuration this test writes. Orthanc sends a chest X-ray to `pneumo serve --dicom-listen` by
// C-STORE; pneumo's SR and heatmap Secondary Capture must arrive back in the same study, and the
// SR, read with DCMTK, must hold pneumo's probability and finding. A CT is logged as not eligible.
// With Orthanc stopped, results wait in pneumo's spool and arrive once Orthanc is back.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/oflog/oflog.h>
#include <gtest/gtest.h>

#include "chest_dicom.h"
#include "dicom/result_objects.h"
#include "dicom/send_queue.h"
#include "serve/serve_fixture.h"
#include "store/result_store.h"

namespace pneumo::dicom {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using serve_testing::PneumoServer;
using testing::ChestDicomOptions;
using testing::MakeChestDicom;
using testing::RealOrSyntheticChest;
namespace fs = std::filesystem;

constexpr char kOrthanc[] = "/usr/sbin/Orthanc";

std::string DicomWebPlugin() {
  for (const char* path : {"/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                           "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7"}) {
    if (fs::exists(path)) return path;
  }
  return "";
}

// One Orthanc process with its own storage; Start() again after Stop() keeps the storage.
class Orthanc {
 public:
  Orthanc(const fs::path& dir, int pneumo_dicom_port) : dir_(dir) {
    const json config = {
        {"Name", "pneumo-test"},
        {"StorageDirectory", (dir / "storage").string()},
        {"IndexDirectory", (dir / "storage").string()},
        {"HttpPort", http_port_},
        {"DicomPort", dicom_port_},
        {"DicomAet", "ORTHANC"},
        {"RemoteAccessAllowed", false},
        {"AuthenticationEnabled", false},
        {"DicomCheckCalledAet", false},
        {"StableAge", 1},
        {"DicomModalities", {{"pneumo", {"PNEUMO", "127.0.0.1", pneumo_dicom_port}}}},
        {"Plugins", json::array({DicomWebPlugin()})},
        {"DicomWeb", {{"Enable", true}, {"Root", "/dicom-web/"}}}};
    std::ofstream(dir / "orthanc.json") << config.dump(2);
  }
  ~Orthanc() { Stop(); }

  std::string Start() {
    process_ = std::make_unique<pneumo::testing::ChildProcess>(std::vector<std::string>{
        kOrthanc, "--logdir=" + dir_.string(), (dir_ / "orthanc.json").string()});
    for (int i = 0; i < 300; ++i) {
      if (auto res = Client().Get("/system"); res && res->status == 200) return "";
      std::this_thread::sleep_for(100ms);
    }
    return "Orthanc did not answer GET /system within 30 s";
  }
  void Stop() { process_.reset(); }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_connection_timeout(2s);
    client.set_read_timeout(60s);
    return client;
  }
  // Orthanc's id of the uploaded instance.
  std::string Upload(const std::vector<std::uint8_t>& bytes) {
    auto res = Client().Post("/instances", reinterpret_cast<const char*>(bytes.data()),
                             bytes.size(), "application/dicom");
    if (!res || res->status != 200) return "";
    return json::parse(res->body).value("ID", "");
  }
  // The series of the study with this Study Instance UID: (modality, Orthanc series id).
  std::vector<std::pair<std::string, std::string>> SeriesOfStudy(const std::string& study_uid) {
    std::vector<std::pair<std::string, std::string>> series;
    auto found = Client().Post(
        "/tools/find",
        json{{"Level", "Series"}, {"Query", {{"StudyInstanceUID", study_uid}}}, {"Expand", true}}
            .dump(),
        "application/json");
    if (!found || found->status != 200) return series;
    for (const auto& s : json::parse(found->body))
      series.emplace_back(s["MainDicomTags"].value("Modality", ""), s.value("ID", ""));
    return series;
  }
  std::vector<std::uint8_t> FirstInstanceFile(const std::string& series_id) {
    auto instances = Client().Get("/series/" + series_id + "/instances");
    if (!instances || instances->status != 200) return {};
    const auto list = json::parse(instances->body);
    if (list.empty()) return {};
    auto file = Client().Get("/instances/" + list[0].value("ID", "") + "/file");
    if (!file || file->status != 200) return {};
    return {file->body.begin(), file->body.end()};
  }
  int dicom_port() const { return dicom_port_; }

 private:
  fs::path dir_;
  int http_port_ = pneumo::testing::FreePort();
  int dicom_port_ = pneumo::testing::FreePort();
  std::unique_ptr<pneumo::testing::ChildProcess> process_;
};

// The modalities of a study's series once it holds `count` of them (or what it held at the end).
std::vector<std::pair<std::string, std::string>> WaitForSeries(Orthanc& orthanc,
                                                               const std::string& study_uid,
                                                               std::size_t count,
                                                               std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  auto series = orthanc.SeriesOfStudy(study_uid);
  while (series.size() < count && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(250ms);
    series = orthanc.SeriesOfStudy(study_uid);
  }
  return series;
}

std::string Describe(const std::vector<std::pair<std::string, std::string>>& series) {
  std::string text;
  for (const auto& [modality, id] : series) text += (text.empty() ? "" : ", ") + modality;
  return "[" + text + "]";
}

std::string SeriesId(const std::vector<std::pair<std::string, std::string>>& series,
                     const std::string& modality) {
  for (const auto& [m, id] : series)
    if (m == modality) return id;
  return "";
}

struct SrContent {
  std::string finding, probability;
};

SrContent ReadSr(const std::vector<std::uint8_t>& bytes) {
  SrContent content;
  auto file = ParsePart10(bytes);
  if (!file) return content;
  DSRDocument doc;
  if (doc.read(*(*file)->getDataset()).bad()) return content;
  DSRDocumentTree& tree = doc.getTree();
  if (tree.gotoNamedNode(DSRCodedEntryValue(kPneumoniaCode, "SCT", "x")) > 0)
    content.finding = tree.getCurrentContentItem().getCodeValue().getCodeValue().c_str();
  if (tree.gotoNamedNode(DSRCodedEntryValue(kProbabilityCode, kPrivateScheme, "x")) > 0)
    content.probability = tree.getCurrentContentItem().getNumericValue().getNumericValue().c_str();
  return content;
}

class OrthancRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kOrthanc) || DicomWebPlugin().empty())
      GTEST_FAIL() << "Orthanc is not installed: apt-get install orthanc orthanc-dicomweb "
                      "(scripts/setup.sh installs both)";
    fs::create_directories(dir_ / "orthanc");
    orthanc_ = std::make_unique<Orthanc>(dir_ / "orthanc", pneumo_dicom_port_);
    ASSERT_EQ(orthanc_->Start(), "");
    server_ = std::make_unique<PneumoServer>(
        "sqlite:" + (dir_ / "results.db").string(),
        std::vector<std::string>{
            "--dicom-listen", "127.0.0.1:" + std::to_string(pneumo_dicom_port_),
            "--dicom-destination", "ORTHANC@127.0.0.1:" + std::to_string(orthanc_->dicom_port()),
            "--dicom-spool", (dir_ / "spool").string(), "--dicom-retry-initial-ms", "200",
            "--dicom-retry-max-ms", "1000"});
    ASSERT_EQ(server_->Start(), "");
    OFLog::configure(OFLogger::ERROR_LOG_LEVEL);  // this process's own DCMTK chatter
    chest_ = RealOrSyntheticChest(&source_);
    std::printf("chest X-ray from: %s\n", source_.c_str());
  }

  // Orthanc's C-STORE of one of its instances to pneumo (synchronous: done when this returns).
  bool OrthancSendsToPneumo(const std::string& orthanc_instance_id) {
    auto res =
        orthanc_->Client().Post("/modalities/pneumo/store", orthanc_instance_id, "text/plain");
    if (!res || res->status != 200) {
      ADD_FAILURE() << "Orthanc /modalities/pneumo/store: "
                    << (res ? std::to_string(res->status) + " " + res->body : "no answer")
                    << "\npneumo log:\n"
                    << server_->LogTail();
      return false;
    }
    return true;
  }

  std::vector<store::ReceivedInstance> ReceivedLog() {
    auto store = store::OpenStore("sqlite:" + (dir_ / "results.db").string());
    if (!store) return {};
    auto log = (*store)->ListReceived(50);
    return log ? *log : std::vector<store::ReceivedInstance>{};
  }

  pneumo::testing::TempDir dir_;
  int pneumo_dicom_port_ = pneumo::testing::FreePort();
  std::unique_ptr<Orthanc> orthanc_;
  std::unique_ptr<PneumoServer> server_;
  cv::Mat chest_;
  std::string source_;
};

TEST_F(OrthancRoundTrip, ResultsOfAChestXrayArriveInItsStudyAsSrAndSecondaryCapture) {
  const ChestDicomOptions dx{.study_uid = "1.2.826.0.1.3680043.10.2001",
                             .series_uid = "1.2.826.0.1.3680043.10.2001.1",
                             .sop_uid = "1.2.826.0.1.3680043.10.2001.1.1",
                             .accession = "ACC-2001"};
  const std::string id = orthanc_->Upload(MakeChestDicom(chest_, dx));
  ASSERT_FALSE(id.empty()) << "Orthanc refused the DX instance";
  const auto before = orthanc_->SeriesOfStudy(dx.study_uid);
  std::printf("Orthanc before: study %s holds series %s\n", dx.study_uid.c_str(),
              Describe(before).c_str());
  ASSERT_EQ(before.size(), 1u);
  ASSERT_TRUE(OrthancSendsToPneumo(id));

  const auto after = WaitForSeries(*orthanc_, dx.study_uid, 3, 60s);
  std::printf("Orthanc after:  study %s holds series %s\n", dx.study_uid.c_str(),
              Describe(after).c_str());
  ASSERT_EQ(after.size(), 3u) << Describe(after) << "\npneumo log:\n" << server_->LogTail();
  EXPECT_FALSE(SeriesId(after, "DX").empty());
  EXPECT_FALSE(SeriesId(after, "OT").empty()) << "no Secondary Capture";
  const std::string sr_series = SeriesId(after, "SR");
  ASSERT_FALSE(sr_series.empty()) << "no SR";

  // The SR as Orthanc holds it, against the prediction pneumo stored.
  const SrContent sr = ReadSr(orthanc_->FirstInstanceFile(sr_series));
  auto listed = server_->Client().Get("/api/v1/predictions?per_page=10");
  ASSERT_TRUE(listed && listed->status == 200);
  const json items = json::parse(listed->body)["items"];
  ASSERT_EQ(items.size(), 1u);
  const double probability = items[0]["probability"];
  const std::string label = items[0]["label"];
  char expected[16];
  std::snprintf(expected, sizeof expected, "%.4f", probability);
  EXPECT_EQ(sr.probability, expected);
  EXPECT_EQ(sr.finding, label == "PNEUMONIA" ? kPresentCode : kAbsentCode);
  std::printf("SR read back: finding %s, probability %s (pneumo: %s %.4f)\n",
              sr.finding == kPresentCode ? "present" : "absent", sr.probability.c_str(),
              label.c_str(), probability);
  const auto log = ReceivedLog();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0].outcome, "predicted");
  EXPECT_EQ(log[0].source, "c-store from ORTHANC");
  EXPECT_EQ(log[0].accession_number, "ACC-2001");
}

TEST_F(OrthancRoundTrip, OrthancsDicomWebClientSendsByStowRsAndTheResultsComeBack) {
  const ChestDicomOptions dx{.study_uid = "1.2.826.0.1.3680043.10.5001",
                             .series_uid = "1.2.826.0.1.3680043.10.5001.1",
                             .sop_uid = "1.2.826.0.1.3680043.10.5001.1.1",
                             .accession = "ACC-5001"};
  const std::string id = orthanc_->Upload(MakeChestDicom(chest_, dx));
  ASSERT_FALSE(id.empty());
  auto client = orthanc_->Client();
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/dicomweb/";
  // As a hospital would configure it: Orthanc sends pneumo's API token with every request.
  const json server = {{"Url", url},
                       {"HttpHeaders", {{"Authorization", "Bearer " + server_->token()}}}};
  auto put = client.Put("/dicom-web/servers/pneumo", server.dump(), "application/json");
  ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "no answer");
  auto stow = client.Post("/dicom-web/servers/pneumo/stow",
                          json{{"Resources", json::array({id})}}.dump(), "application/json");
  ASSERT_TRUE(stow && stow->status == 200) << (stow ? stow->body : "no answer") << "\n"
                                           << server_->LogTail();
  const auto after = WaitForSeries(*orthanc_, dx.study_uid, 3, 60s);
  std::printf("Orthanc after STOW-RS: study %s holds series %s\n", dx.study_uid.c_str(),
              Describe(after).c_str());
  ASSERT_EQ(after.size(), 3u) << Describe(after) << "\n" << server_->LogTail();
  const SrContent sr = ReadSr(orthanc_->FirstInstanceFile(SeriesId(after, "SR")));
  EXPECT_FALSE(sr.probability.empty());
  const auto log = ReceivedLog();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0].source, "stow-rs");
  EXPECT_EQ(log[0].outcome, "predicted");
  auto listed = server_->Client().Get("/api/v1/predictions?accession=ACC-5001");
  ASSERT_TRUE(listed && listed->status == 200);
  const json page = json::parse(listed->body);
  ASSERT_EQ(page["total"], 1);
  EXPECT_EQ(page["items"][0]["dicom"]["study_instance_uid"], dx.study_uid);
  auto detail =
      server_->Client().Get("/api/v1/predictions/" + page["items"][0]["id"].get<std::string>());
  ASSERT_TRUE(detail && detail->status == 200);
  const json sends = json::parse(detail->body)["dicom_sends"];
  ASSERT_EQ(sends.size(), 2u);
  for (const auto& send : sends) EXPECT_EQ(send["state"], "sent") << send.dump();
}

TEST_F(OrthancRoundTrip, ACtSentTheSameWayIsLoggedAsNotEligible) {
  const ChestDicomOptions ct{.modality = "CT",
                             .sop_class = UID_CTImageStorage,
                             .study_uid = "1.2.826.0.1.3680043.10.3001",
                             .series_uid = "1.2.826.0.1.3680043.10.3001.1",
                             .sop_uid = "1.2.826.0.1.3680043.10.3001.1.1",
                             .accession = "ACC-3001"};
  const std::string id = orthanc_->Upload(MakeChestDicom(chest_, ct));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(OrthancSendsToPneumo(id));  // acknowledged: Orthanc's store job succeeds
  const auto log = ReceivedLog();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "not_eligible");
  EXPECT_EQ(log[0].sop_instance_uid, ct.sop_uid);
  EXPECT_NE(log[0].reason.find("CT"), std::string::npos) << log[0].reason;
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(orthanc_->SeriesOfStudy(ct.study_uid).size(), 1u) << "no result for a CT";
  auto listed = server_->Client().Get("/api/v1/predictions");
  ASSERT_TRUE(listed && listed->status == 200);
  EXPECT_TRUE(json::parse(listed->body)["items"].empty());
  auto received = server_->Client().Get("/api/v1/dicom/received");
  ASSERT_TRUE(received && received->status == 200);
  EXPECT_EQ(json::parse(received->body)["items"][0]["outcome"], "not_eligible");
}

TEST_F(OrthancRoundTrip, ResultsWaitWhileOrthancIsDownAndArriveWhenItIsBack) {
  const ChestDicomOptions dx{.study_uid = "1.2.826.0.1.3680043.10.4001",
                             .series_uid = "1.2.826.0.1.3680043.10.4001.1",
                             .sop_uid = "1.2.826.0.1.3680043.10.4001.1.1",
                             .accession = "ACC-4001"};
  const std::string id = orthanc_->Upload(MakeChestDicom(chest_, dx));
  ASSERT_FALSE(id.empty());
  orthanc_->Stop();
  // A modality sends to pneumo while the PACS is down.
  SendOptions as_modality;
  as_modality.calling_ae_title = "MODALITY";
  auto sent = SendInstance({.ae_title = "PNEUMO", .host = "127.0.0.1", .port = pneumo_dicom_port_},
                           MakeChestDicom(chest_, dx), as_modality);
  ASSERT_TRUE(sent) << sent.error().ToString() << "\n" << server_->LogTail();
  std::this_thread::sleep_for(2s);  // a few attempts fail meanwhile
  auto metrics = server_->Client().Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_NE(metrics->body.find("pneumo_dicom_send_queue_depth 2"), std::string::npos)
      << "SR and Secondary Capture should wait in the queue";
  ASSERT_EQ(orthanc_->Start(), "");
  const auto after = WaitForSeries(*orthanc_, dx.study_uid, 3, 30s);
  std::printf("Orthanc after restart: study %s holds series %s\n", dx.study_uid.c_str(),
              Describe(after).c_str());
  EXPECT_EQ(after.size(), 3u) << Describe(after) << "\n" << server_->LogTail();
}

}  // namespace
}  // namespace pneumo::dicom
