#include "dicom/send_queue.h"

#include <gtest/gtest.h>

#include <fstream>

#include "chest_dicom.h"
#include "recording_sink.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace pneumo::dicom {
namespace {

using namespace std::chrono_literals;
using testing::RecordingSink;

SendOptions Fast() {
  SendOptions o;
  o.initial_backoff = 100ms;
  o.max_backoff = 400ms;
  o.connect_timeout = 2s;
  return o;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

TEST(ParseDestination, ReadsAeHostAndPortAndRefusesTheRest) {
  auto d = ParseDestination("ORTHANC@pacs.example:4242");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->ae_title, "ORTHANC");
  EXPECT_EQ(d->host, "pacs.example");
  EXPECT_EQ(d->port, 4242);
  for (const char* bad : {"ORTHANC", "pacs:4242", "@pacs:4242", "ORTHANC@:4242", "A@h:0", "A@h:x",
                          "A@h:70000", "TOOLONGAETITLEXXXX@h:104"}) {
    EXPECT_FALSE(ParseDestination(bad)) << bad;
  }
}

class SendQueueTest : public ::testing::Test {
 protected:
  void StartDestination() {
    auto scp = StorageScp::Start({.port = port_}, sink_);
    ASSERT_TRUE(scp) << scp.error().ToString();
    scp_ = std::move(*scp);
  }
  std::unique_ptr<SendQueue> Open(SendOptions options = Fast()) {
    auto queue =
        SendQueue::Open(dir_.path(), {.ae_title = "PNEUMO", .host = "127.0.0.1", .port = port_},
                        options, registry_);
    EXPECT_TRUE(queue) << queue.error().ToString();
    return queue ? std::move(*queue) : nullptr;
  }
  pneumo::testing::TempDir dir_;
  int port_ = pneumo::testing::FreePort();
  RecordingSink sink_;
  std::unique_ptr<StorageScp> scp_;
  metrics::Registry registry_;
  const std::vector<std::uint8_t> instance_ =
      testing::MakeChestDicom(testing::RealOrSyntheticChest());
};

TEST_F(SendQueueTest, SendsAQueuedInstanceAndCountsIt) {
  ASSERT_NO_FATAL_FAILURE(StartDestination());
  auto queue = Open();
  ASSERT_TRUE(queue);
  auto queued =
      queue->Enqueue(instance_, {.prediction_id = "p1", .kind = "sr", .sop_instance_uid = "1.2.3"});
  ASSERT_TRUE(queued) << queued.error().ToString();
  EXPECT_EQ(queued->state, "pending");
  ASSERT_TRUE(sink_.WaitFor(1, 10s));
  ASSERT_TRUE(WaitUntil([&] { return queue->ForPrediction("p1").at(0).state == "sent"; }, 5s));
  const SendState sent = queue->ForPrediction("p1").at(0);
  EXPECT_EQ(sent.attempts, 1);
  EXPECT_GT(sent.sent_at_ms, 0);
  EXPECT_EQ(queue->depth(), 0u);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "sent" / "p1-sr.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "pending" / "p1-sr.dcm"));
  const std::string metrics = registry_.Render();
  EXPECT_NE(metrics.find("pneumo_dicom_sends_total{outcome=\"sent\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("pneumo_dicom_send_queue_depth 0"), std::string::npos) << metrics;
}

TEST_F(SendQueueTest, RetriesWithGrowingBackOffWhileTheDestinationIsDown) {
  auto queue = Open();
  ASSERT_TRUE(queue);
  ASSERT_TRUE(queue->Enqueue(instance_, {.prediction_id = "p2", .kind = "sr"}));
  std::this_thread::sleep_for(1200ms);
  const SendState waiting = queue->ForPrediction("p2").at(0);
  EXPECT_EQ(waiting.state, "pending");
  // Attempts at about 0, 100, 300, 700 and 1100 ms (doubling, capped at 400): a fixed 100 ms
  // retry would have made about 12, none at all 1.
  EXPECT_GE(waiting.attempts, 3);
  EXPECT_LE(waiting.attempts, 6);
  EXPECT_NE(waiting.last_error.find("no association"), std::string::npos) << waiting.last_error;
  EXPECT_NE(registry_.Render().find("pneumo_dicom_send_queue_depth 1"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(StartDestination());
  ASSERT_TRUE(sink_.WaitFor(1, 5s)) << "not delivered once the destination came up";
  ASSERT_TRUE(WaitUntil([&] { return queue->ForPrediction("p2").at(0).state == "sent"; }, 5s));
}

TEST_F(SendQueueTest, KeepsPendingSendsAcrossARestart) {
  {
    auto queue = Open();
    ASSERT_TRUE(queue);
    ASSERT_TRUE(queue->Enqueue(instance_, {.prediction_id = "p3", .kind = "sr"}));
    ASSERT_TRUE(queue->Enqueue(instance_, {.prediction_id = "p3", .kind = "sc"}));
    ASSERT_TRUE(WaitUntil([&] { return queue->ForPrediction("p3").at(0).attempts >= 1; }, 5s));
  }  // the process "stops" with both unsent
  // A crash mid-write leaves a half file in tmp/; it must be ignored and cleaned away.
  std::ofstream(dir_ / "tmp" / "half.dcm.part") << "partial";
  ASSERT_NO_FATAL_FAILURE(StartDestination());
  auto reopened = Open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->ForPrediction("p3").size(), 2u);
  ASSERT_TRUE(sink_.WaitFor(2, 10s));
  ASSERT_TRUE(WaitUntil([&] { return reopened->depth() == 0; }, 5s));
  for (const SendState& s : reopened->ForPrediction("p3")) {
    EXPECT_EQ(s.state, "sent");
    EXPECT_GE(s.attempts, 2) << "the attempt before the restart is remembered";
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "tmp" / "half.dcm.part"));
}

TEST_F(SendQueueTest, ParksAnInstanceTheDestinationRefuses) {
  ASSERT_NO_FATAL_FAILURE(StartDestination());
  sink_.set_status(StoreStatus::kCannotUnderstand);
  auto queue = Open();
  ASSERT_TRUE(queue);
  ASSERT_TRUE(queue->Enqueue(instance_, {.prediction_id = "p4", .kind = "sc"}));
  ASSERT_TRUE(WaitUntil([&] { return queue->ForPrediction("p4").at(0).state == "failed"; }, 10s));
  EXPECT_EQ(queue->ForPrediction("p4").at(0).attempts, 1);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "failed" / "p4-sc.dcm"));
  EXPECT_NE(registry_.Render().find("pneumo_dicom_sends_total{outcome=\"failed\"} 1"),
            std::string::npos);
}

TEST_F(SendQueueTest, RefusesUnsafeOrEmptyRequests) {
  auto queue = Open();
  ASSERT_TRUE(queue);
  EXPECT_FALSE(queue->Enqueue({}, {.prediction_id = "p", .kind = "sr"}));
  EXPECT_FALSE(queue->Enqueue(instance_, {.prediction_id = "../../etc/x", .kind = "sr"}));
  EXPECT_FALSE(queue->Enqueue(instance_, {.prediction_id = "", .kind = "sr"}));
}

}  // namespace
}  // namespace pneumo::dicom
