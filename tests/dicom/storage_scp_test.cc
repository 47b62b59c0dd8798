#include "dicom/storage_scp.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/scu.h>
#include <gtest/gtest.h>

#include "chest_dicom.h"
#include "dicom/send_queue.h"
#include "recording_sink.h"
#include "testing/process.h"

namespace pneumo::dicom {
namespace {

using testing::RecordingSink;

std::unique_ptr<StorageScp> StartScp(RecordingSink& sink, ScpOptions options = {}) {
  options.port = pneumo::testing::FreePort();
  auto scp = StorageScp::Start(options, sink);
  EXPECT_TRUE(scp) << scp.error().ToString();
  return scp ? std::move(*scp) : nullptr;
}

Destination To(const StorageScp& scp, std::string ae = "PNEUMO") {
  return Destination{.ae_title = std::move(ae), .host = "127.0.0.1", .port = scp.port()};
}

TEST(StorageScp, AnswersCEcho) {
  RecordingSink sink;
  auto scp = StartScp(sink);
  ASSERT_TRUE(scp);
  DcmSCU scu;
  scu.setAETitle("ECHOER");
  scu.setPeerAETitle("PNEUMO");
  scu.setPeerHostName("127.0.0.1");
  scu.setPeerPort(static_cast<Uint16>(scp->port()));
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
  scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
  ASSERT_TRUE(scu.initNetwork().good());
  ASSERT_TRUE(scu.negotiateAssociation().good());
  EXPECT_TRUE(scu.sendECHORequest(0).good());
  scu.releaseAssociation();
}

TEST(StorageScp, HandsAStoredInstanceToTheSinkWithTheCallingAeTitle) {
  RecordingSink sink;
  auto scp = StartScp(sink);
  ASSERT_TRUE(scp);
  const auto bytes = testing::MakeChestDicom(testing::RealOrSyntheticChest());
  SendOptions options;
  options.calling_ae_title = "MODALITY1";
  auto sent = SendInstance(To(*scp), bytes, options);
  ASSERT_TRUE(sent) << sent.error().ToString();
  ASSERT_EQ(sink.received().size(), 1u);
  EXPECT_EQ(sink.received()[0].calling_ae, "MODALITY1");
  EXPECT_EQ(sink.received()[0].sop_instance_uid, "1.2.826.0.1.3680043.10.1001.1.1");
}

TEST(StorageScp, ReturnsTheSinksFailureStatusToTheSender) {
  RecordingSink sink;
  auto scp = StartScp(sink);
  ASSERT_TRUE(scp);
  const auto bytes = testing::MakeChestDicom(testing::RealOrSyntheticChest());
  sink.set_status(StoreStatus::kCannotUnderstand);
  auto refused = SendInstance(To(*scp), bytes, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << refused.error().ToString();
  EXPECT_NE(refused.error().message.find("C000"), std::string::npos) << refused.error().message;
  sink.set_status(StoreStatus::kOutOfResources);
  auto busy = SendInstance(To(*scp), bytes, {});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kUnavailable);  // worth retrying
}

TEST(StorageScp, RefusesAnAssociationCalledWithAnotherAeTitle) {
  RecordingSink sink;
  auto scp = StartScp(sink);
  ASSERT_TRUE(scp);
  auto sent = SendInstance(To(*scp, "SOMEONE"),
                           testing::MakeChestDicom(testing::RealOrSyntheticChest()), {});
  ASSERT_FALSE(sent);
  EXPECT_TRUE(sink.received().empty());
}

TEST(StorageScp, RejectsAssociationsBeyondTheLimit) {
  RecordingSink sink;
  auto scp = StartScp(sink, {.max_associations = 1});
  ASSERT_TRUE(scp);
  auto open = [&](DcmSCU& scu) {
    scu.setAETitle("HOLDER");
    scu.setPeerAETitle("PNEUMO");
    scu.setPeerHostName("127.0.0.1");
    scu.setPeerPort(static_cast<Uint16>(scp->port()));
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
    scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
    return scu.initNetwork().good() && scu.negotiateAssociation().good();
  };
  DcmSCU first, second;
  ASSERT_TRUE(open(first));
  EXPECT_FALSE(open(second));  // "local limit exceeded"
  first.releaseAssociation();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  DcmSCU third;
  EXPECT_TRUE(open(third));
  third.releaseAssociation();
}

TEST(StorageScp, ReportsATakenPortAndBadOptions) {
  RecordingSink sink;
  auto scp = StartScp(sink);
  ASSERT_TRUE(scp);
  auto again = StorageScp::Start({.port = scp->port()}, sink);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(StorageScp::Start({.ae_title = "", .port = 1234}, sink));
  EXPECT_FALSE(StorageScp::Start({.ae_title = "THIS-TITLE-IS-TOO-LONG", .port = 1234}, sink));
  EXPECT_FALSE(StorageScp::Start({.port = 0}, sink));
  EXPECT_FALSE(StorageScp::Start({.port = 1234, .max_pdu_bytes = 10}, sink));
}

TEST(StorageScp, SurvivesGarbageOnItsPortAndKeepsServing) {
  RecordingSink sink;
  auto scp = StartScp(sink);
  ASSERT_TRUE(scp);
  // Not DICOM at all: an HTTP request, then a fake A-ASSOCIATE-RQ header announcing 4 GB.
  for (const std::string garbage : {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                                    std::string("\x01\x00\xff\xff\xff\xff", 6)}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(scp->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_GT(::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL), 0);
    ::close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto sent = SendInstance(To(*scp), testing::MakeChestDicom(testing::RealOrSyntheticChest()), {});
  EXPECT_TRUE(sent) << sent.error().ToString();
}

}  // namespace
}  // namespace pneumo::dicom
